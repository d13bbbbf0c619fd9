//! The `mustache` and `handlebars` engines on the handlebars crate. Handlebars reads
//! Mustache's templates; what differs is set up here: a mustache template has no helpers
//! (Mustache has none, so `{{#if}}` is a section named `if`) and looks a name up through
//! the enclosing sections' contexts, as Mustache does, where Handlebars stays in the
//! current one. Both read sections and inverted sections (`sections`,
//! `mustache_syntax`).

use handlebars::{Handlebars, RenderErrorReason, TemplateError, no_escape, template::Template};
use mailroom_model::v3::TemplateEngine;
use serde_json::Value;

use super::{
    Markup, RenderFault,
    capped_output::CappedOutput,
    mustache_syntax,
    sections::{BLOCK_HELPER_MISSING, Section},
    template_shape,
};

/// The helpers the handlebars crate registers, none of which a mustache template has.
pub(super) const BUILT_IN_HELPERS: &[&str] = &[
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not", "len",
];

/// The name the one template of a registry is rendered under.
const NAME: &str = "template";

/// `source` compiled and checked (`template_shape::check`).
pub fn compile(engine: TemplateEngine, source: &str) -> Result<Template, RenderFault> {
    let adapted = mustache_syntax::adapt(source);
    let template =
        Template::compile(&adapted).map_err(|e| RenderFault::Invalid(syntax_error(engine, &e)))?;
    template_shape::check(&template)?;
    Ok(template)
}

pub fn render(
    engine: TemplateEngine,
    source: &str,
    markup: Markup,
    variables: &Value,
    strict: bool,
) -> Result<String, RenderFault> {
    let template = compile(engine, source)?;
    template_shape::check_work(&template, variables, engine == TemplateEngine::Handlebars)?;
    let mut registry = registry(engine, markup, strict);
    registry.register_template(NAME, template);
    let mut out = CappedOutput::new();
    match registry.render_to_write(NAME, variables, &mut out) {
        Ok(()) => Ok(out.into_string()),
        Err(_) if out.overflowed() => Err(RenderFault::TooLarge(out.refusal())),
        Err(e) => Err(render_error(&e)),
    }
}

fn registry(engine: TemplateEngine, markup: Markup, strict: bool) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    if engine == TemplateEngine::Mustache {
        for helper in BUILT_IN_HELPERS {
            registry.unregister_helper(helper);
        }
        registry.set_recursive_lookup(true);
    }
    registry.register_helper(BLOCK_HELPER_MISSING, Box::new(Section));
    registry.set_strict_mode(strict);
    if markup == Markup::Plain {
        registry.register_escape_fn(no_escape);
    }
    registry
}

fn syntax_error(engine: TemplateEngine, error: &TemplateError) -> String {
    let place = error
        .pos()
        .map(|(line, column)| format!(" (line {line}, column {column})"))
        .unwrap_or_default();
    format!("not a valid {engine} template: {}{place}", error.reason())
}

fn render_error(error: &handlebars::RenderError) -> RenderFault {
    match error.reason() {
        RenderErrorReason::MissingVariable(name) => {
            RenderFault::MissingVariable(name.clone().unwrap_or_else(|| "?".into()))
        }
        RenderErrorReason::TemplateError(e) => RenderFault::Invalid(e.reason().to_string()),
        reason => {
            let place = error
                .line_no
                .map(|line| format!(" (line {line})"))
                .unwrap_or_default();
            RenderFault::Failed(format!("the template cannot be rendered: {reason}{place}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mustache(source: &str, variables: Value) -> Result<String, RenderFault> {
        render(
            TemplateEngine::Mustache,
            source,
            Markup::Html,
            &variables,
            true,
        )
    }

    #[test]
    fn mustache_sections_switch_context_and_look_names_up_outward() {
        let variables = json!({
            "company": "Acme",
            "user": {"name": "Ann"},
            "items": [{"n": "a"}, {"n": "b"}],
            "tags": ["x", "y"],
        });
        assert_eq!(
            mustache(
                "{{#user}}{{name}} at {{company}}{{/user}}",
                variables.clone()
            )
            .unwrap(),
            "Ann at Acme"
        );
        assert_eq!(
            mustache("{{#items}}{{n}}@{{company}} {{/items}}", variables.clone()).unwrap(),
            "a@Acme b@Acme "
        );
        assert_eq!(
            mustache("{{#tags}}<{{.}}>{{/tags}}", variables.clone()).unwrap(),
            "<x><y>"
        );
        assert_eq!(
            mustache("{{#nickname}}aka {{nickname}}{{/nickname}}.", variables).unwrap(),
            ".",
            "a missing section is false, strict or not"
        );
    }

    #[test]
    fn mustache_has_no_helpers_so_their_names_are_variables() {
        let variables = json!({"if": true, "len": 3, "each": [1, 2]});
        assert_eq!(
            mustache(
                "{{#if}}yes{{/if}} {{len}} {{#each}}{{.}}{{/each}}",
                variables
            )
            .unwrap(),
            "yes 3 12"
        );
    }

    #[test]
    fn handlebars_keeps_its_helpers() {
        let rendered = render(
            TemplateEngine::Handlebars,
            "{{#if (eq plan \"pro\")}}Pro{{else}}Free{{/if}} {{#each xs}}{{@index}}{{/each}}",
            Markup::Html,
            &json!({"plan": "pro", "xs": [5, 6]}),
            true,
        );
        assert_eq!(rendered.as_deref(), Ok("Pro 01"));
    }
}
