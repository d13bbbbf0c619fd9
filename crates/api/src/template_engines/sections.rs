//! Mustache's sections, `{{#name}}…{{/name}}`, which Handlebars.js also reads where
//! `name` is no helper: a non-empty list renders the block once per item, an object
//! once with the object as its context, another true value once as it is; false, empty
//! or missing renders the inverse (`{{else}}`, or an inverted section's body). The
//! handlebars crate hands such blocks to the helper registered as `blockHelperMissing`.

use handlebars::{
    BlockContext, Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy, Output,
    RenderContext, Renderable,
};
use serde_json::Value;

/// The name the handlebars crate calls for a block whose name is no helper.
pub const BLOCK_HELPER_MISSING: &str = "blockHelperMissing";

pub struct Section;

impl HelperDef for Section {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = rc.evaluate(ctx, h.name())?;
        let base = value.context_path().cloned();
        let json = value.as_json().clone();
        let inverse = || h.inverse();
        match &json {
            Value::Array(items) if !items.is_empty() => {
                let Some(template) = h.template() else {
                    return Ok(());
                };
                for (index, item) in items.iter().enumerate() {
                    let mut block = BlockContext::new();
                    match &base {
                        Some(path) => {
                            let mut path = path.clone();
                            path.push(index.to_string());
                            *block.base_path_mut() = path;
                        }
                        None => block.set_base_value(item.clone()),
                    }
                    block.set_local_var("index", Value::from(index));
                    block.set_local_var("first", Value::from(index == 0));
                    block.set_local_var("last", Value::from(index + 1 == items.len()));
                    rc.push_block(block);
                    let rendered = template.render(r, ctx, rc, out);
                    rc.pop_block();
                    rendered?;
                }
                Ok(())
            }
            Value::Object(_) => {
                let Some(template) = h.template() else {
                    return Ok(());
                };
                let mut block = BlockContext::new();
                match base {
                    Some(path) => *block.base_path_mut() = path,
                    None => block.set_base_value(json.clone()),
                }
                rc.push_block(block);
                let rendered = template.render(r, ctx, rc, out);
                rc.pop_block();
                rendered
            }
            truthy if truthy.is_truthy(false) => match h.template() {
                Some(template) => template.render(r, ctx, rc, out),
                None => Ok(()),
            },
            _ => match inverse() {
                Some(template) => template.render(r, ctx, rc, out),
                None => Ok(()),
            },
        }
    }
}
