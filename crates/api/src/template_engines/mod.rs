//! Rendering message templates in the engines Nylas lists (docs/API.md §5.10): mustache
//! and handlebars on the handlebars crate (mustache's sections and inverted sections
//! added: `sections`, `mustache_syntax`), nunjucks and twig on minijinja, whose Jinja
//! syntax both share (`jinja_family`).
//!
//! A template comes from a caller, so no template may run away with the server: sources
//! are bounded in size, rendered text in bytes (`capped_output`), and the work of a
//! render up front for handlebars (`template_shape`: nesting, partials, loops over the
//! variables given) and by fuel for minijinja, which also limits recursion. Rendering is
//! CPU work: callers run it off the async runtime (`render_off_runtime`).

mod capped_output;
mod handlebars_family;
mod jinja_family;
mod mustache_syntax;
mod sections;
mod template_shape;

use mailroom_model::v3::TemplateEngine;
use serde_json::Value;

/// The largest template body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The largest template subject accepted.
pub const MAX_SUBJECT_BYTES: usize = 64 * 1024;
/// The most a render may write.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;

/// What the rendered text is, which decides whether variables are escaped in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// A body: variables are HTML-escaped unless the template asks for them raw
    /// (`{{{name}}}`, `{{&name}}`, `|safe`, `|raw`).
    Html,
    /// A subject: plain text, nothing escaped.
    Plain,
}

/// Why a template did not render, in words for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderFault {
    /// It does not compile, or uses what mailroom does not offer (partials, includes).
    Invalid(String),
    /// Strict, and a variable it uses is not in `variables`.
    MissingVariable(String),
    /// It would write or work past the limits.
    TooLarge(String),
    /// The engine refused while rendering (a wrong type, an unknown helper or filter).
    Failed(String),
}

impl RenderFault {
    pub fn message(&self) -> String {
        match self {
            RenderFault::Invalid(detail) => detail.clone(),
            RenderFault::MissingVariable(name) => format!(
                "the template uses the variable '{name}', which 'variables' does not define; \
                 define it, or render with \"strict\": false to leave it empty"
            ),
            RenderFault::TooLarge(detail) => detail.clone(),
            RenderFault::Failed(detail) => detail.clone(),
        }
    }
}

/// Compiles `source` without rendering it: what create and update check.
pub fn check(engine: TemplateEngine, source: &str) -> Result<(), RenderFault> {
    match engine {
        TemplateEngine::Mustache | TemplateEngine::Handlebars => {
            handlebars_family::compile(engine, source).map(drop)
        }
        TemplateEngine::Nunjucks | TemplateEngine::Twig => jinja_family::check(source),
    }
}

/// Renders `source` with `variables` (an object). `strict`: a variable missing from
/// `variables` is an error rather than empty.
pub fn render(
    engine: TemplateEngine,
    source: &str,
    markup: Markup,
    variables: &Value,
    strict: bool,
) -> Result<String, RenderFault> {
    match engine {
        TemplateEngine::Mustache | TemplateEngine::Handlebars => {
            handlebars_family::render(engine, source, markup, variables, strict)
        }
        TemplateEngine::Nunjucks | TemplateEngine::Twig => {
            jinja_family::render(source, markup, variables, strict)
        }
    }
}

/// [`render`] on a blocking thread, so that a long render holds no async worker.
pub async fn render_off_runtime(
    engine: TemplateEngine,
    source: String,
    markup: Markup,
    variables: Value,
    strict: bool,
) -> Result<String, RenderFault> {
    tokio::task::spawn_blocking(move || render(engine, &source, markup, &variables, strict))
        .await
        .unwrap_or_else(|_| {
            Err(RenderFault::Failed(
                "the render stopped unexpectedly".into(),
            ))
        })
}

/// [`check`] on a blocking thread.
pub async fn check_off_runtime(engine: TemplateEngine, source: String) -> Result<(), RenderFault> {
    tokio::task::spawn_blocking(move || check(engine, &source))
        .await
        .unwrap_or_else(|_| Err(RenderFault::Failed("the check stopped unexpectedly".into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn each_engine() -> [(TemplateEngine, &'static str, &'static str); 4] {
        [
            (TemplateEngine::Mustache, "Hi {{name}}", "Hi {{{name}}}"),
            (TemplateEngine::Handlebars, "Hi {{name}}", "Hi {{{name}}}"),
            (
                TemplateEngine::Nunjucks,
                "Hi {{ name }}",
                "Hi {{ name|safe }}",
            ),
            (TemplateEngine::Twig, "Hi {{ name }}", "Hi {{ name|raw }}"),
        ]
    }

    #[test]
    fn every_engine_escapes_bodies_unless_asked_and_never_subjects() {
        let variables = json!({"name": "<b>Ann & Bo</b>"});
        for (engine, escaped, raw) in each_engine() {
            let html = render(engine, escaped, Markup::Html, &variables, true).unwrap();
            assert!(
                html.starts_with("Hi &lt;b&gt;Ann &amp; Bo&lt;"),
                "{engine}: {html}"
            );
            let kept = render(engine, raw, Markup::Html, &variables, true).unwrap();
            assert_eq!(kept, "Hi <b>Ann & Bo</b>", "{engine}");
            let plain = render(engine, escaped, Markup::Plain, &variables, true).unwrap();
            assert_eq!(plain, "Hi <b>Ann & Bo</b>", "{engine}");
        }
    }

    #[test]
    fn strict_names_the_missing_variable_and_lenient_leaves_it_empty() {
        for (engine, source, _) in each_engine() {
            let source = source.replace("name", "user.first_name");
            let fault = render(engine, &source, Markup::Html, &json!({}), true).unwrap_err();
            assert_eq!(
                fault,
                RenderFault::MissingVariable("user.first_name".into()),
                "{engine}"
            );
            assert!(fault.message().contains("'user.first_name'"));
            let empty = render(engine, &source, Markup::Html, &json!({}), false).unwrap();
            assert_eq!(empty, "Hi ", "{engine}");
        }
    }

    #[test]
    fn syntax_errors_are_refused_with_the_engines_word() {
        for (engine, source) in [
            (TemplateEngine::Mustache, "{{#items}}x"),
            (TemplateEngine::Handlebars, "{{#if a}}x{{/each}}"),
            (TemplateEngine::Nunjucks, "{% if a %}x"),
            (TemplateEngine::Twig, "{{ a | }}"),
        ] {
            let Err(RenderFault::Invalid(detail)) = check(engine, source) else {
                panic!("{engine}: {source} should not compile");
            };
            assert!(detail.contains("line 1"), "{engine}: {detail}");
        }
    }

    #[test]
    fn loops_and_conditions_work_in_each_engine() {
        let variables = json!({"items": [{"n": 1}, {"n": 2}], "vip": true, "none": []});
        for (engine, source, expected) in [
            (
                TemplateEngine::Mustache,
                "{{#items}}[{{n}}]{{/items}}{{#vip}}!{{/vip}}{{^none}}-{{/none}}",
                "[1][2]!-",
            ),
            (
                TemplateEngine::Handlebars,
                "{{#each items}}[{{n}}]{{/each}}{{#if vip}}!{{/if}}{{^none}}-{{/none}}",
                "[1][2]!-",
            ),
            (
                TemplateEngine::Nunjucks,
                "{% for i in items %}[{{ i.n }}]{% endfor %}{% if vip %}!{% endif %}",
                "[1][2]!",
            ),
            (
                TemplateEngine::Twig,
                "{% for i in items %}[{{ i.n }}]{% endfor %}{{ '!' if vip else '' }}",
                "[1][2]!",
            ),
        ] {
            let rendered = render(engine, source, Markup::Html, &variables, true);
            assert_eq!(rendered.as_deref(), Ok(expected), "{engine}");
        }
    }

    #[test]
    fn runaway_templates_are_cut_with_a_clear_error() {
        let many: Vec<u32> = (0..1000).collect();
        let variables = json!({"xs": many, "big": "x".repeat(1024 * 1024)});
        for (engine, source) in [
            (
                TemplateEngine::Handlebars,
                "{{#each xs}}{{#each ../xs}}{{#each ../../xs}}.{{/each}}{{/each}}{{/each}}",
            ),
            (
                TemplateEngine::Mustache,
                "{{#xs}}{{#xs}}{{#xs}}.{{/xs}}{{/xs}}{{/xs}}",
            ),
            (
                TemplateEngine::Handlebars,
                "{{{big}}}{{{big}}}{{{big}}}{{{big}}}{{{big}}}",
            ),
            (
                TemplateEngine::Nunjucks,
                "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}",
            ),
            (
                TemplateEngine::Twig,
                "{% set s = big ~ big %}{% set s = s ~ s %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s }}",
            ),
            (
                TemplateEngine::Nunjucks,
                "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
            ),
        ] {
            // Refused by the work and size budgets, not by a clock.
            let fault = render(engine, source, Markup::Html, &variables, true).unwrap_err();
            assert!(
                matches!(fault, RenderFault::TooLarge(_)),
                "{engine}: {source}: {fault:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_and_partials_are_refused_before_rendering() {
        let deep = format!("{}x{}", "{{#if a}}".repeat(5000), "{{/if}}".repeat(5000));
        for engine in [TemplateEngine::Mustache, TemplateEngine::Handlebars] {
            assert!(matches!(check(engine, &deep), Err(RenderFault::Invalid(_))));
            for source in [
                "{{> footer}}",
                "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}",
            ] {
                let Err(RenderFault::Invalid(detail)) = check(engine, source) else {
                    panic!("{source} should be refused");
                };
                assert!(detail.contains("partial"), "{detail}");
            }
        }
        let deep = format!(
            "{}x{}",
            "{% if a %}".repeat(5000),
            "{% endif %}".repeat(5000)
        );
        assert!(matches!(
            check(TemplateEngine::Twig, &deep),
            Err(RenderFault::Invalid(_))
        ));
        assert!(matches!(
            check(TemplateEngine::Nunjucks, "{% include 'footer.html' %}"),
            Err(RenderFault::Invalid(_))
        ));
    }
}
