//! What a compiled handlebars template may be, checked before it renders: the handlebars
//! crate renders nested blocks and subexpressions by recursion and has no budget of its
//! own, so nesting is bounded here, partials and decorators (which could call
//! themselves) are refused, and the work a render would do with given variables is
//! estimated and bounded: every element is visited once per iteration of each loop
//! around it, and a loop runs as often as its list in the variables has items, or, where
//! that cannot be told before rendering, as the longest list or object there.

use std::rc::Rc;

use handlebars::{
    Path, PathSeg,
    template::{HelperTemplate, Parameter, Template, TemplateElement},
};
use serde_json::Value;

use super::RenderFault;

/// The deepest nesting of blocks and subexpressions accepted.
pub const MAX_NESTING: usize = 64;
/// The most element visits a render may need.
pub const MAX_WORK: u64 = 2_000_000;

/// Refuses partials, decorators and nesting deeper than [`MAX_NESTING`].
pub fn check(template: &Template) -> Result<(), RenderFault> {
    let mut pending: Vec<(&TemplateElement, usize)> =
        template.elements.iter().map(|e| (e, 0)).collect();
    while let Some((element, depth)) = pending.pop() {
        if depth > MAX_NESTING {
            return Err(RenderFault::Invalid(format!(
                "the template nests blocks or subexpressions more than {MAX_NESTING} deep"
            )));
        }
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(helper)
            | TemplateElement::HtmlExpression(helper)
            | TemplateElement::HelperBlock(helper) => {
                for inner in nested(helper) {
                    pending.push((inner, depth + 1));
                }
            }
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                return Err(RenderFault::Invalid(
                    "partials ({{> name}}) are not offered: a template stands alone".into(),
                ));
            }
            _ => {
                return Err(RenderFault::Invalid(
                    "decorators ({{* name}}, {{#* inline}}) are not offered, nor the inline \
                     partials they define: a template stands alone"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}

/// Refuses a render of `template` with `variables` that would take more than
/// [`MAX_WORK`] element visits. A loop whose list can be found in `variables` counts its
/// length; where it cannot be told (inside another loop's items, a path out of the
/// context), the longest list or object in `variables` stands for it. `helpers`: whether
/// the template has Handlebars' helpers (a mustache template has none, so every block is
/// a section).
pub fn check_work(
    template: &Template,
    variables: &Value,
    helpers: bool,
) -> Result<(), RenderFault> {
    let longest = longest_collection(variables).max(1);
    let root = Rc::new(Frame {
        context: Some(variables),
        outer: None,
    });
    let mut work: u64 = 0;
    let mut pending: Vec<(&TemplateElement, u64, Rc<Frame>)> = template
        .elements
        .iter()
        .map(|e| (e, 1, root.clone()))
        .collect();
    while let Some((element, times, frame)) = pending.pop() {
        work = work.saturating_add(times);
        if work > MAX_WORK {
            return Err(RenderFault::TooLarge(format!(
                "with these variables the template would loop through more than {MAX_WORK} \
                 steps, the most allowed"
            )));
        }
        let (TemplateElement::Expression(helper)
        | TemplateElement::HtmlExpression(helper)
        | TemplateElement::HelperBlock(helper)) = element
        else {
            continue;
        };
        let (inner_times, inner_frame) = if helper.block {
            let (repeats, context) = block_pass(helper, &frame, helpers, longest);
            let inner = match context {
                Context::Same => frame.clone(),
                Context::Known(value) => Rc::new(Frame {
                    context: Some(value),
                    outer: Some(frame.clone()),
                }),
                Context::Unknown => Rc::new(Frame {
                    context: None,
                    outer: Some(frame.clone()),
                }),
            };
            (times.saturating_mul(repeats), inner)
        } else {
            (times, frame.clone())
        };
        for inner in nested(helper) {
            pending.push((inner, inner_times, inner_frame.clone()));
        }
    }
    Ok(())
}

/// The contexts a block is rendered in, innermost first: `None` where the value cannot
/// be told before rendering.
struct Frame<'v> {
    context: Option<&'v Value>,
    outer: Option<Rc<Frame<'v>>>,
}

/// The context inside a block.
enum Context<'v> {
    Same,
    Known(&'v Value),
    Unknown,
}

/// What a path names, found from the innermost context outward (as Mustache looks;
/// Handlebars stops at the first, which can only make it find less).
enum Found<'v> {
    Value(&'v Value),
    Missing,
    Unknown,
}

/// How often a block renders its body at most, and in which context.
fn block_pass<'v>(
    helper: &HelperTemplate,
    frame: &Rc<Frame<'v>>,
    helpers: bool,
    longest: u64,
) -> (u64, Context<'v>) {
    let helper_name = match &helper.name {
        Parameter::Name(name) if helpers => Some(name.as_str()),
        _ => None,
    };
    match helper_name {
        Some("if" | "unless") => (1, Context::Same),
        Some("with") => match helper.params.first().map(|p| find(frame, p)) {
            Some(Found::Value(value @ Value::Object(_))) => (1, Context::Known(value)),
            Some(Found::Value(_) | Found::Missing) => (1, Context::Same),
            _ => (1, Context::Unknown),
        },
        Some("each") => match helper.params.first().map(|p| find(frame, p)) {
            Some(Found::Value(Value::Array(items))) => (items.len() as u64, Context::Unknown),
            Some(Found::Value(Value::Object(map))) => (map.len() as u64, Context::Unknown),
            Some(Found::Value(_) | Found::Missing) => (1, Context::Same),
            _ => (longest, Context::Unknown),
        },
        Some(_) if is_helper_name(helper, helpers) => (longest, Context::Unknown),
        // A section (docs/API.md §5.10): a list repeats, an object becomes the context.
        _ => match find(frame, &helper.name) {
            Found::Value(Value::Array(items)) => (items.len() as u64, Context::Unknown),
            Found::Value(value @ Value::Object(_)) => (1, Context::Known(value)),
            Found::Value(_) | Found::Missing => (1, Context::Same),
            Found::Unknown => (longest, Context::Unknown),
        },
    }
}

/// Whether a block names one of Handlebars' helpers rather than a section.
fn is_helper_name(helper: &HelperTemplate, helpers: bool) -> bool {
    helpers
        && matches!(&helper.name, Parameter::Name(name) if super::handlebars_family::BUILT_IN_HELPERS.contains(&name.as_str()))
}

fn find<'v>(frame: &Rc<Frame<'v>>, parameter: &Parameter) -> Found<'v> {
    let segments: Vec<&str> = match parameter {
        Parameter::Name(name) => name.split(['.', '/']).collect(),
        Parameter::Path(Path::Relative((segments, _))) => {
            let mut named = Vec::with_capacity(segments.len());
            for segment in segments {
                match segment {
                    PathSeg::Named(name) => named.push(name.as_str()),
                    // `..`, `this`, `@root`: out of the simple lookup.
                    _ => return Found::Unknown,
                }
            }
            named
        }
        _ => return Found::Unknown,
    };
    let Some((first, rest)) = segments.split_first() else {
        return Found::Unknown;
    };
    let mut current = Some(frame.clone());
    while let Some(frame) = current {
        let Some(context) = frame.context else {
            return Found::Unknown;
        };
        if let Some(value) = context.get(*first) {
            return match rest.iter().try_fold(value, |v, key| v.get(*key)) {
                Some(value) => Found::Value(value),
                None => Found::Missing,
            };
        }
        current = frame.outer.clone();
    }
    Found::Missing
}

/// The elements inside a helper: its subexpressions, its block and its inverse.
fn nested(helper: &HelperTemplate) -> impl Iterator<Item = &TemplateElement> {
    let parameters = std::iter::once(&helper.name)
        .chain(helper.params.iter())
        .chain(helper.hash.values());
    let subexpressions = parameters.filter_map(|p| match p {
        Parameter::Subexpression(sub) => Some(sub.element.as_ref()),
        _ => None,
    });
    let blocks = helper
        .template
        .iter()
        .chain(helper.inverse.iter())
        .flat_map(|t| t.elements.iter());
    subexpressions.chain(blocks)
}

/// The most items any list or object within `value` holds.
fn longest_collection(value: &Value) -> u64 {
    let mut longest = 0u64;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => {
                longest = longest.max(items.len() as u64);
                pending.extend(items);
            }
            Value::Object(map) => {
                longest = longest.max(map.len() as u64);
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compiled(source: &str) -> Template {
        Template::compile(source).unwrap()
    }

    #[test]
    fn nesting_is_counted_through_blocks_inverses_and_subexpressions() {
        let blocks = |n: usize| format!("{}x{}", "{{#if a}}".repeat(n), "{{/if}}".repeat(n));
        assert!(check(&compiled(&blocks(MAX_NESTING))).is_ok());
        assert!(check(&compiled(&blocks(MAX_NESTING + 1))).is_err());
        let inverse =
            |n: usize| format!("{}x{}", "{{#if a}}{{else}}".repeat(n), "{{/if}}".repeat(n));
        assert!(check(&compiled(&inverse(MAX_NESTING + 1))).is_err());
        let subexpression = |n: usize| format!("{{{{x {}a{}}}}}", "(x ".repeat(n), ")".repeat(n));
        assert!(check(&compiled(&subexpression(MAX_NESTING - 2))).is_ok());
        assert!(check(&compiled(&subexpression(MAX_NESTING + 1))).is_err());
    }

    #[test]
    fn work_grows_with_each_loop_and_the_longest_list() {
        let template = compiled("{{#each xs}}{{#each ../xs}}.{{/each}}{{/each}}");
        let ten: Vec<u32> = (0..10).collect();
        assert!(check_work(&template, &json!({"xs": ten}), true).is_ok());
        let thousands: Vec<u32> = (0..2000).collect();
        assert!(check_work(&template, &json!({"xs": thousands}), true).is_err());
        let once = compiled("{{#if a}}{{#with b}}{{#unless c}}.{{/unless}}{{/with}}{{/if}}");
        assert!(check_work(&once, &json!({"xs": thousands}), true).is_ok());
    }

    #[test]
    fn sections_over_objects_and_short_lists_are_not_taken_for_long_loops() {
        let thousands: Vec<u32> = (0..2000).collect();
        let variables = json!({
            "long": thousands,
            "order": {"customer": {"address": {"city": "Oslo"}}, "items": [1, 2, 3]},
        });
        let nested = compiled(
            "{{#order}}{{#customer}}{{#address}}{{#items}}{{#items}}{{city}}{{/items}}{{/items}}\
             {{/address}}{{/customer}}{{/order}}",
        );
        assert!(check_work(&nested, &variables, false).is_ok());
        let each = compiled("{{#each order.items}}{{#each ../order.items}}.{{/each}}{{/each}}");
        assert!(check_work(&each, &variables, true).is_ok());
        let unknown = compiled("{{#each long}}{{#each ../long}}.{{/each}}{{/each}}");
        assert!(check_work(&unknown, &variables, true).is_err());
    }
}
