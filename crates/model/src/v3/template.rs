//! Message templates, the application's (`/v3/templates`) and a grant's
//! (`/v3/grants/{grant_id}/templates`), their engines, and the bodies of the render
//! calls (docs/API.md §5.10).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The template languages Nylas lists. `mustache` when a create names none.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TemplateEngine {
    #[default]
    Mustache,
    Handlebars,
    Nunjucks,
    Twig,
}

impl TemplateEngine {
    pub const ALL: &'static [TemplateEngine] = &[
        TemplateEngine::Mustache,
        TemplateEngine::Handlebars,
        TemplateEngine::Nunjucks,
        TemplateEngine::Twig,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateEngine::Mustache => "mustache",
            TemplateEngine::Handlebars => "handlebars",
            TemplateEngine::Nunjucks => "nunjucks",
            TemplateEngine::Twig => "twig",
        }
    }
}

impl fmt::Display for TemplateEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine name outside [`TemplateEngine::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a template engine; use one of mustache, handlebars, nunjucks, twig")]
pub struct UnknownEngine(pub String);

impl FromStr for TemplateEngine {
    type Err = UnknownEngine;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        TemplateEngine::ALL
            .iter()
            .copied()
            .find(|engine| engine.as_str() == value)
            .ok_or_else(|| UnknownEngine(value.chars().take(64).collect()))
    }
}

/// A stored template. `app_id` is set on the application's templates and `grant_id` on a
/// grant's; the other is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: String,
    pub app_id: Option<String>,
    pub grant_id: Option<String>,
    pub name: String,
    pub subject: String,
    /// HTML.
    pub body: String,
    pub engine: TemplateEngine,
    pub created_at: i64,
    pub updated_at: i64,
    /// Always `template`.
    pub object: &'static str,
}

/// The body of a template's create (all but `engine` required) and of its update (each
/// field optional, the rest kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct TemplateInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// `mustache` (the default), `handlebars`, `nunjucks` or `twig`.
    #[serde(default)]
    pub engine: Option<String>,
}

/// The body of `POST …/templates/{template_id}/render`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct RenderTemplateRequest {
    /// The values the template's variables take: an object.
    #[serde(default)]
    pub variables: Option<Value>,
    /// Whether a variable missing from `variables` is an error (the default) or renders
    /// empty.
    #[serde(default)]
    pub strict: Option<bool>,
}

/// The body of `POST …/templates/render`: a body rendered without being stored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct RenderHtmlRequest {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub engine: Option<String>,
    #[serde(default)]
    pub variables: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// A stored template, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RenderedTemplate {
    pub subject: String,
    pub body: String,
}

/// A body, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RenderedHtml {
    pub body: String,
}

/// A send's `template`: the stored template (the grant's or its application's) whose
/// subject and body the message takes, unless the send gives its own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct TemplateUse {
    pub id: String,
    #[serde(default)]
    pub variables: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn engines_parse_by_their_lowercase_names_only() {
        for engine in TemplateEngine::ALL {
            assert_eq!(engine.as_str().parse::<TemplateEngine>(), Ok(*engine));
            assert_eq!(json!(engine), json!(engine.as_str()));
        }
        let refused = "Jinja".parse::<TemplateEngine>().unwrap_err().to_string();
        assert!(
            refused.contains("mustache, handlebars, nunjucks, twig"),
            "{refused}"
        );
        assert!("Mustache".parse::<TemplateEngine>().is_err());
    }

    #[test]
    fn a_template_always_carries_both_owner_fields() {
        let template = Template {
            id: "t".into(),
            app_id: Some("a".into()),
            grant_id: None,
            name: "n".into(),
            subject: "s".into(),
            body: "b".into(),
            engine: TemplateEngine::Twig,
            created_at: 1,
            updated_at: 2,
            object: "template",
        };
        let value = serde_json::to_value(&template).unwrap();
        assert_eq!(value["grant_id"], Value::Null);
        assert_eq!(value["app_id"], "a");
        assert_eq!(value["engine"], "twig");
        assert_eq!(value["object"], "template");
    }

    #[test]
    fn a_send_names_its_template_with_optional_variables() {
        let used: TemplateUse =
            serde_json::from_value(json!({"id": "t1", "variables": {"a": 1}, "strict": false}))
                .unwrap();
        assert_eq!(used.id, "t1");
        assert_eq!(used.strict, Some(false));
        assert!(serde_json::from_value::<TemplateUse>(json!({"variables": {}})).is_err());
    }
}
