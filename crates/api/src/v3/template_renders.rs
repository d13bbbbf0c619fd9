//! Rendering templates (docs/API.md §5.10): a stored one's subject and body
//! (`POST …/templates/{template_id}/render`), a body given in the request
//! (`POST …/templates/render`), and a send's `template`, whose subject and body the
//! message takes unless it gives its own.

use axum::extract::{Path, State};
use mailroom_model::{
    TemplateId,
    v3::{
        ComposeRequest, RenderHtmlRequest, RenderTemplateRequest, RenderedHtml, RenderedTemplate,
        TemplateEngine,
    },
};
use mailroom_store::{TemplateOwner, TemplateRecord};
use serde_json::{Map, Value};

use crate::{
    auth::AppAuth,
    envelope::Item,
    error::ApiError,
    extract::JsonBody,
    grant_access::GrantAccess,
    router::AppState,
    template_engines::{self, MAX_BODY_BYTES, Markup, RenderFault},
    v3::templates::{self, parse_engine},
};

pub async fn render_app_template(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RenderTemplateRequest>,
) -> Result<Item<RenderedTemplate>, ApiError> {
    render_stored(&state, &templates::application(&auth), &id, input).await
}

pub async fn render_grant_template(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<RenderTemplateRequest>,
) -> Result<Item<RenderedTemplate>, ApiError> {
    render_stored(&state, &templates::grant(&access), &id, input).await
}

pub async fn render_app_html(
    _auth: AppAuth,
    JsonBody(input): JsonBody<RenderHtmlRequest>,
) -> Result<Item<RenderedHtml>, ApiError> {
    render_html(input).await
}

pub async fn render_grant_html(
    _access: GrantAccess,
    JsonBody(input): JsonBody<RenderHtmlRequest>,
) -> Result<Item<RenderedHtml>, ApiError> {
    render_html(input).await
}

/// Fills a send's subject and body from its `template`, the grant's own or its
/// application's; a subject or body the request gives is kept as given.
pub async fn apply_send_template(
    state: &AppState,
    access: &GrantAccess,
    request: &mut ComposeRequest,
) -> Result<(), ApiError> {
    let Some(used) = request.template.take() else {
        return Ok(());
    };
    let template = match TemplateId::parse(&used.id) {
        Ok(id) => {
            state
                .store
                .template_for_send(&access.grant.application_id, &access.grant.id, &id)
                .await?
        }
        Err(_) => None,
    }
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "'template': neither this grant nor its application has a template with id '{}'",
            crate::clip::clip(&used.id, 128)
        ))
    })?;
    let variables = variables(used.variables.unwrap_or_else(|| Value::Object(Map::new())))?;
    let strict = used.strict.unwrap_or(true);
    if request.subject.is_none() {
        let subject = render_part(&template, Part::Subject, &variables, strict).await?;
        request.subject = Some(subject);
    }
    if request.body.is_none() {
        let body = render_part(&template, Part::Body, &variables, strict).await?;
        request.body = Some(body);
    }
    Ok(())
}

async fn render_stored(
    state: &AppState,
    owner: &TemplateOwner,
    id: &str,
    input: RenderTemplateRequest,
) -> Result<Item<RenderedTemplate>, ApiError> {
    let template = templates::find(state, owner, id).await?;
    let variables = variables(required_variables(input.variables)?)?;
    let strict = input.strict.unwrap_or(true);
    let subject = render_part(&template, Part::Subject, &variables, strict).await?;
    let body = render_part(&template, Part::Body, &variables, strict).await?;
    Ok(Item::ok(RenderedTemplate { subject, body }))
}

async fn render_html(input: RenderHtmlRequest) -> Result<Item<RenderedHtml>, ApiError> {
    let body = input.body.ok_or_else(|| {
        ApiError::invalid_payload("'body' is required: the HTML template to render")
    })?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid_payload(format!(
            "'body' may hold at most {MAX_BODY_BYTES} bytes"
        )));
    }
    let engine: TemplateEngine = parse_engine(input.engine.as_deref().ok_or_else(|| {
        ApiError::invalid_payload(
            "'engine' is required: one of mustache, handlebars, nunjucks, twig",
        )
    })?)?;
    let variables = variables(required_variables(input.variables)?)?;
    let strict = input.strict.unwrap_or(true);
    let body = template_engines::render_off_runtime(engine, body, Markup::Html, variables, strict)
        .await
        .map_err(|fault| refused("body", &fault))?;
    Ok(Item::ok(RenderedHtml { body }))
}

#[derive(Clone, Copy)]
enum Part {
    Subject,
    Body,
}

async fn render_part(
    template: &TemplateRecord,
    part: Part,
    variables: &Value,
    strict: bool,
) -> Result<String, ApiError> {
    let (name, source, markup) = match part {
        Part::Subject => ("subject", &template.subject, Markup::Plain),
        Part::Body => ("body", &template.body, Markup::Html),
    };
    template_engines::render_off_runtime(
        template.engine,
        source.clone(),
        markup,
        variables.clone(),
        strict,
    )
    .await
    .map_err(|fault| refused(name, &fault))
}

fn refused(part: &str, fault: &RenderFault) -> ApiError {
    ApiError::bad_request(format!("the template's {part}: {}", fault.message()))
}

fn required_variables(variables: Option<Value>) -> Result<Value, ApiError> {
    variables.ok_or_else(|| {
        ApiError::invalid_payload(
            "'variables' is required: an object of the values the template's variables take",
        )
    })
}

fn variables(value: Value) -> Result<Value, ApiError> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::invalid_payload(
            "'variables' must be an object, e.g. {\"user\": {\"name\": \"Ann\"}}",
        ))
    }
}
