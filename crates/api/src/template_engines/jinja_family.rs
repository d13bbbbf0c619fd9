//! The `nunjucks` and `twig` engines on minijinja, which reads the Jinja syntax both
//! share: `{{ name }}`, `{% if %}`, `{% for %}`, `{% set %}`, macros and filters. Twig's
//! `|raw` is added beside Jinja's `|safe`. A template stands alone: there is no loader,
//! so `include`, `import` and `extends` find nothing. Fuel bounds the instructions a
//! render runs and the data it makes; minijinja bounds recursion itself.

use std::collections::HashSet;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, value::Serde};
use serde_json::Value;

use super::{Markup, RenderFault, capped_output::CappedOutput};

/// The work one render may do: an instruction costs one, and every 64 bytes of data it
/// makes cost one.
const FUEL: u64 = 500_000;
/// How deep macros and blocks may call into each other.
const RECURSION_LIMIT: usize = 200;
/// The names a template is compiled under, which choose its escaping.
const HTML_NAME: &str = "body";
const PLAIN_NAME: &str = "subject";

pub fn check(source: &str) -> Result<(), RenderFault> {
    let env = environment(true);
    env.template_from_named_str(HTML_NAME, source)
        .map(drop)
        .map_err(|e| RenderFault::Invalid(describe("not a valid template", &e)))
}

pub fn render(
    source: &str,
    markup: Markup,
    variables: &Value,
    strict: bool,
) -> Result<String, RenderFault> {
    let env = environment(strict);
    let name = match markup {
        Markup::Html => HTML_NAME,
        Markup::Plain => PLAIN_NAME,
    };
    let template = env
        .template_from_named_str(name, source)
        .map_err(|e| RenderFault::Invalid(describe("not a valid template", &e)))?;
    let mut out = CappedOutput::new();
    match template.render_captured_to(Serde(variables), &mut out) {
        Ok(_) => Ok(out.into_string()),
        Err(_) if out.overflowed() => Err(RenderFault::TooLarge(out.refusal())),
        Err(e) => Err(fault(
            &e,
            &env,
            &template.undeclared_variables(true),
            variables,
        )),
    }
}

fn environment(strict: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name == HTML_NAME {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // Strict: printing, iterating or reading into a missing value fails, testing it
    // (`{% if name %}`, `is defined`) does not. Otherwise a missing value, and anything
    // read from it, is empty.
    env.set_undefined_behavior(if strict {
        UndefinedBehavior::SemiStrict
    } else {
        UndefinedBehavior::Chainable
    });
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.add_filter("raw", minijinja::filters::safe);
    env
}

fn fault(
    error: &Error,
    env: &Environment,
    used: &HashSet<String>,
    variables: &Value,
) -> RenderFault {
    match error.kind() {
        ErrorKind::UndefinedError => match first_missing(env, used, variables) {
            Some(name) => RenderFault::MissingVariable(name),
            None => RenderFault::Failed(describe("the template cannot be rendered", error)),
        },
        ErrorKind::OutOfFuel => RenderFault::TooLarge(format!(
            "the template would do more work than allowed{}",
            line(error)
        )),
        ErrorKind::InvalidOperation
            if error
                .detail()
                .is_some_and(|d| d.contains("recursion limit") || d.contains("too large")) =>
        {
            RenderFault::TooLarge(describe("the template goes past a limit", error))
        }
        ErrorKind::TemplateNotFound => RenderFault::Invalid(
            "a template stands alone: include, import and extends are not offered".into(),
        ),
        _ => RenderFault::Failed(describe("the template cannot be rendered", error)),
    }
}

/// The first variable the template reads (as `a` or `a.b.c`) that `variables` lacks.
fn first_missing(env: &Environment, used: &HashSet<String>, variables: &Value) -> Option<String> {
    let globals: HashSet<&str> = env.globals().map(|(name, _)| name).collect();
    let mut used: Vec<&String> = used.iter().collect();
    used.sort();
    used.into_iter()
        .filter(|path| {
            let first = path.split('.').next().unwrap_or_default();
            !globals.contains(first)
        })
        .find(|path| {
            path.split('.')
                .try_fold(variables, |value, key| value.get(key))
                .is_none()
        })
        .cloned()
}

fn describe(what: &str, error: &Error) -> String {
    let detail = error.detail().map(|d| format!(": {d}")).unwrap_or_default();
    format!("{what}: {}{detail}{}", error.kind(), line(error))
}

fn line(error: &Error) -> String {
    error
        .line()
        .map(|n| format!(" (line {n})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globals_are_not_taken_for_missing_variables() {
        let fault = render(
            "{% for i in range(2) %}{{ i }}{% endfor %}{{ user.name }}",
            Markup::Html,
            &json!({"user": {}}),
            true,
        )
        .unwrap_err();
        assert_eq!(fault, RenderFault::MissingVariable("user.name".into()));
    }

    #[test]
    fn a_missing_value_may_be_tested_in_strict_mode() {
        let rendered = render(
            "{% if nickname %}{{ nickname }}{% else %}-{% endif %}{% if x is defined %}!{% endif %}",
            Markup::Html,
            &json!({}),
            true,
        );
        assert_eq!(rendered.as_deref(), Ok("-"));
    }
}
