//! The OpenAPI 3.1 description of the v3 API, served at `GET /openapi.json` and kept in
//! `docs/openapi.json`. It is built from the route tables themselves: each entry of
//! `crate::grant_routes::GRANT_ROUTES` and of the application routes
//! (`crate::v3::V3_ROUTES`) carries a [`RouteDoc`], and the scopes of a grant route are
//! read from its `any_of`, so the document cannot drift from what the router serves.
//! The wire contract in words is docs/API.md; the envelopes are §1.4, the errors §1.6.
//! The v2 routes (§8) are left out: they are in the grant table with their descriptions,
//! but v2's bare shapes are not described here.

use std::{collections::BTreeMap, sync::OnceLock};

use axum::{
    http::{Method, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use mailroom_model::{ALL_SCOPES, Scope};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        ArrayBuilder, Components, ContentBuilder, HttpMethod, Info, ObjectBuilder, OneOfBuilder,
        OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required, Response as ApiResponse,
        ResponseBuilder, Schema, Server, Tag, Type,
        path::{OperationBuilder, Parameter, ParameterBuilder, ParameterIn},
        request_body::RequestBodyBuilder,
        schema::SchemaType,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

/// The components a document collects as its operations name them.
#[derive(Default)]
pub struct Schemas(BTreeMap<String, RefOr<Schema>>);

/// A schema of the document: registers it (and what it refers to) and returns its `$ref`.
pub type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// The [`SchemaFn`] of a type deriving `ToSchema`.
pub fn schema<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    let mut found = Vec::new();
    T::schemas(&mut found);
    for (name, schema) in found {
        schemas.0.entry(name).or_insert(schema);
    }
    let name = T::name().into_owned();
    schemas.0.entry(name.clone()).or_insert_with(T::schema);
    Ref::from_schema_name(name).into()
}

/// What one route is for, as the document tells it: every route of the tables has one.
#[derive(Clone, Copy)]
pub struct RouteDoc {
    /// One line, the operation's `summary`.
    pub summary: &'static str,
    /// The section of docs/API.md that is its contract, e.g. `"5.1"`.
    pub section: &'static str,
    /// More words, when the summary and the section do not say enough.
    pub description: &'static str,
    pub query: &'static [Param],
    /// Request headers the route reads beyond authentication.
    pub headers: &'static [Param],
    pub body: Body,
    pub answer: Answer,
}

impl RouteDoc {
    pub const fn new(summary: &'static str, section: &'static str) -> Self {
        RouteDoc {
            summary,
            section,
            description: "",
            query: &[],
            headers: &[],
            body: Body::None,
            answer: Answer::Done,
        }
    }

    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    pub const fn query(mut self, query: &'static [Param]) -> Self {
        self.query = query;
        self
    }

    pub const fn headers(mut self, headers: &'static [Param]) -> Self {
        self.headers = headers;
        self
    }

    pub const fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub const fn answer(mut self, answer: Answer) -> Self {
        self.answer = answer;
        self
    }
}

/// The header of a send that must not be sent twice (`crate::idempotency`).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The headers of such a send, for its [`RouteDoc`].
pub const IDEMPOTENT_SEND: &[Param] = &[Param::new(
    IDEMPOTENCY_KEY_HEADER,
    Kind::Text,
    "A key of the client's (1 to 255 visible ASCII characters): a repeat within a day \
     answers the first request's answer (with `Idempotent-Replayed: true`) and sends nothing \
     (docs/API.md §5.2)",
)];

/// A query parameter.
#[derive(Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

impl Param {
    pub const fn new(name: &'static str, kind: Kind, description: &'static str) -> Self {
        Param {
            name,
            kind,
            required: false,
            description,
        }
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// The type of a query parameter (docs/API.md §1.3 for how lists and booleans are read).
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    /// An integer within bounds.
    Integer {
        min: i64,
        max: i64,
    },
    /// Unix seconds.
    Time,
    Boolean,
    /// Repeated, or comma-separated.
    List,
    OneOf(&'static [&'static str]),
}

/// The request body.
#[derive(Clone, Copy)]
pub enum Body {
    None,
    /// A JSON object, required.
    Json(SchemaFn),
    /// A JSON object, or no body at all.
    OptionalJson(SchemaFn),
    /// A message as JSON, or as `multipart/form-data` with its JSON in a part `message`
    /// (or `draft`) and one part per attachment (docs/API.md §5.2).
    Compose,
    /// The same, and raw MIME with `?type=mime` and a part `mime`.
    ComposeOrMime,
    /// The token request: JSON, or a form as generic OAuth clients send it.
    JsonOrForm(SchemaFn),
    /// The hosted sign-in form.
    Form,
}

/// The successful answer.
#[derive(Clone, Copy)]
pub enum Answer {
    /// 200 `{"request_id", "data"}`.
    Item(SchemaFn),
    /// 201 `{"request_id", "data"}`.
    Created(SchemaFn),
    /// 201 when a grant was created, 200 when an existing one signed in again.
    CreatedOrSignedInAgain(SchemaFn),
    /// 200 `{"request_id", "data": […], "next_cursor"?}`.
    Cursor(SchemaFn),
    /// 200 `{"request_id", "data": […], "limit", "offset"}`.
    Offset(SchemaFn),
    /// 200 `{"request_id", "data": […]}`, the whole list.
    List(SchemaFn),
    /// 200 `{"request_id"}`.
    Done,
    /// 200 `{"request_id", "grant_id", "data"}` with the sent message; 202 when
    /// `scheduled` and `send_at` is in the future.
    Sent { scheduled: bool },
    /// 200 with the object itself, not enveloped.
    Bare(SchemaFn),
    /// 200 with the bytes of a file.
    Bytes,
    /// An HTML page, or a redirect (303) to the application or the provider.
    Page,
    /// 200 with a GIF image.
    Image,
    /// 302 to the address in `Location`.
    Redirect,
}

/// Who may call a route.
#[derive(Clone, Copy)]
pub enum Auth {
    /// The application's API key.
    ApiKey,
    /// An API key, or a grant access token for its own grant (`me`).
    ApiKeyOrGrant,
    /// An API key, or a grant access token holding one of the scopes (or one that
    /// includes one of them).
    Scoped(&'static [Scope]),
    /// No credential: the OAuth endpoints and the hosted pages.
    None,
}

/// How errors come back: the v3 envelope, OAuth's shape, or an HTML page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    Envelope,
    OAuth,
    Page,
}

/// One operation of the document: a route of a table with its description.
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub auth: Auth,
    pub errors: Errors,
    pub doc: RouteDoc,
}

/// The routes the document describes: the v3 application routes, the v3 grant routes,
/// and the server's own (`/healthz`, `/openapi.json`).
pub fn operations() -> Vec<Operation> {
    let mut operations: Vec<Operation> = crate::v3::V3_ROUTES
        .iter()
        .map(|route| Operation {
            method: route.method.clone(),
            path: route.path,
            auth: route.auth,
            errors: route.errors,
            doc: route.doc,
        })
        .collect();
    operations.extend(
        crate::grant_routes::GRANT_ROUTES
            .iter()
            .filter(|route| route.path.starts_with("/v3/"))
            .map(|route| Operation {
                method: route.method.clone(),
                path: route.path,
                auth: Auth::Scoped(route.any_of),
                errors: Errors::Envelope,
                doc: route.doc,
            }),
    );
    operations.extend(server_operations());
    operations
}

fn server_operations() -> [Operation; 2] {
    [
        Operation {
            method: Method::GET,
            path: "/healthz",
            auth: Auth::None,
            errors: Errors::Envelope,
            doc: RouteDoc::new("Whether the server answers", "1")
                .answer(Answer::Bare(schema::<shapes::Health>)),
        },
        Operation {
            method: Method::GET,
            path: "/openapi.json",
            auth: Auth::None,
            errors: Errors::Envelope,
            doc: RouteDoc::new(
                "This document: the OpenAPI 3.1 description of the v3 API",
                "1",
            )
            .answer(Answer::Bare(schema::<shapes::AnyObject>)),
        },
    ]
}

/// A message, or with `fields=raw_mime` only its raw MIME (docs/API.md §5.1).
pub fn message_or_raw_mime(schemas: &mut Schemas) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(schema::<mailroom_model::v3::Message>(schemas))
        .item(schema::<shapes::RawMimeMessage>(schemas))
        .into()
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(document_text);
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        text.clone(),
    )
        .into_response()
}

/// The document as `docs/openapi.json` holds it: pretty-printed, with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

pub fn document() -> OpenApi {
    let mut schemas = Schemas::default();
    let mut paths = Paths::new();
    let mut tags = std::collections::BTreeSet::new();
    for operation in operations() {
        let tag = tag_of(operation.path);
        tags.insert(tag);
        let built = build_operation(&operation, tag, &mut schemas);
        let method = http_method(&operation.method);
        paths.add_path_operation(operation.path, vec![method], built);
    }
    let mut components = Components::new();
    components.schemas = schemas.0;
    for (name, schema) in components.schemas.iter_mut() {
        if let RefOr::T(Schema::Object(object)) = schema
            && !PARTLY_OPTIONAL.contains(&name.as_str())
        {
            object.required = object
                .properties
                .keys()
                .filter(|key| !SOMETIMES_ABSENT.contains(&(name.as_str(), key.as_str())))
                .cloned()
                .collect();
        }
    }
    components.security_schemes = BTreeMap::from([
        (
            "api_key".to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key of the application (`mailroom app create`, \
                         `mailroom api-key …`): every v3 route (docs/API.md §1.2).",
                    ))
                    .build(),
            ),
        ),
        (
            "grant_token".to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mrat_…")
                    .description(Some(
                        "A grant access token from POST /v3/connect/token: its own \
                         grant's routes (`me` for its grant id), within the grant's \
                         scopes; a requirement lists the scopes that admit the route \
                         (docs/API.md §1.2, §11).",
                    ))
                    .build(),
            ),
        ),
    ]);
    let mut info = Info::new("mailroom", env!("CARGO_PKG_VERSION"));
    info.description = Some(
        "A self-hosted email API, wire-compatible with Nylas API v3: the v3 routes, \
         generated from mailroom's route tables. The contract in words is docs/API.md \
         in the repository; the Nylas v2 routes (§8) are not described here."
            .to_owned(),
    );
    info.license = Some(utoipa::openapi::License::new("Apache-2.0"));
    let mut document = OpenApiBuilder::new()
        .info(info)
        .servers(Some([Server::new("/")]))
        .paths(paths)
        .components(Some(components))
        .tags(Some(tags.into_iter().map(Tag::new)))
        .build();
    document.openapi = utoipa::openapi::OpenApiVersion::Version31;
    document
}

/// Schemas whose keys may be left out: the request bodies (lenient: an absent key is
/// `null`), and the shapes both read and written. Every other schema is of an object
/// mailroom writes, and those carry every documented key, `null`, `[]` or `false` when
/// empty (docs/API.md §9), so all their properties are marked required, except the few
/// of [`SOMETIMES_ABSENT`].
const PARTLY_OPTIONAL: &[&str] = &[
    "AnyObject",
    "ComposeAttachment",
    "ComposeMultipart",
    "ComposeOrMimeMultipart",
    "ComposeRequest",
    "ConnectorInput",
    "CreateWebhookRequest",
    "CustomAuthRequest",
    "CustomHeader",
    "EmailName",
    "FolderInput",
    "MessageUpdate",
    "MockPayloadRequest",
    "RedirectUriInput",
    "RedirectUriSettings",
    "SendTestEventRequest",
    "TokenRequest",
    "UpdateGrantRequest",
    "UpdateWebhookRequest",
];

/// Keys of written objects that are there only sometimes (`skip_serializing_if`).
const SOMETIMES_ABSENT: &[(&str, &str)] = &[
    ("ErrorDetail", "provider_error"),
    ("Message", "headers"),
    ("TokenResponse", "refresh_token"),
    ("Webhook", "webhook_secret"),
];

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Trace,
    }
}

/// The resource a path is about: its first segment after `/v3/` or after the grant.
fn tag_of(path: &str) -> &str {
    let rest = path
        .strip_prefix("/v3/grants/{grant_id}/")
        .or_else(|| path.strip_prefix("/v3/"));
    match rest {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => "server",
    }
}

/// `get /v3/grants/{grant_id}/messages` → `get_grants_grant_id_messages`.
fn operation_id(method: &Method, path: &str) -> String {
    let words: Vec<String> = path
        .trim_start_matches("/v3")
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    format!(
        "{}_{}",
        method.as_str().to_ascii_lowercase(),
        words.join("_")
    )
}

fn build_operation(
    operation: &Operation,
    tag: &str,
    schemas: &mut Schemas,
) -> utoipa::openapi::path::Operation {
    let doc = &operation.doc;
    let mut description = format!("docs/API.md §{}.", doc.section);
    if !doc.description.is_empty() {
        description = format!("{}\n\n{description}", doc.description);
    }
    if let Auth::Scoped(any_of) = operation.auth {
        description.push_str(&format!(
            "\n\nWith a grant access token, any of these scopes admits the call: {}.",
            admitting(any_of).join(", ")
        ));
    }
    let mut builder = OperationBuilder::new()
        .operation_id(Some(operation_id(&operation.method, operation.path)))
        .summary(Some(doc.summary))
        .description(Some(description))
        .tag(tag);
    for parameter in path_parameters(operation.path) {
        builder = builder.parameter(parameter);
    }
    for param in doc.query {
        builder = builder.parameter(query_parameter(param, ParameterIn::Query));
    }
    for param in doc.headers {
        builder = builder.parameter(query_parameter(param, ParameterIn::Header));
    }
    if let Some(body) = request_body(doc.body, schemas) {
        builder = builder.request_body(Some(body));
    }
    for (status, response) in answers(doc.answer, schemas) {
        builder = builder.response(status, response);
    }
    for (status, response) in error_responses(operation, schemas) {
        builder = builder.response(status, response);
    }
    builder = match operation.auth {
        Auth::ApiKey => builder.security(SecurityRequirement::new::<_, _, &str>("api_key", [])),
        Auth::ApiKeyOrGrant => builder
            .security(SecurityRequirement::new::<_, _, &str>("api_key", []))
            .security(SecurityRequirement::new::<_, _, &str>("grant_token", [])),
        Auth::Scoped(any_of) => builder
            .security(SecurityRequirement::new::<_, _, &str>("api_key", []))
            .security(SecurityRequirement::new("grant_token", admitting(any_of))),
        Auth::None => builder.security(SecurityRequirement::default()),
    };
    builder.build()
}

/// Every scope that admits a route whose table entry says `any_of`, in the order of
/// [`ALL_SCOPES`].
pub fn admitting(any_of: &[Scope]) -> Vec<&'static str> {
    ALL_SCOPES
        .iter()
        .filter(|scope| Scope::allows(&[**scope], any_of))
        .map(|scope| scope.as_str())
        .collect()
}

fn path_parameters(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let description = match name {
                "grant_id" => "The grant's id, or `me` for the grant of the access token",
                "provider" => "The connector's provider: `imap`, `google`, `microsoft` or `yahoo`",
                _ => "The object's id",
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(String::schema()))
                .build()
        })
        .collect()
}

/// A query parameter, or a header (`ParameterIn::Header`).
fn query_parameter(param: &Param, place: ParameterIn) -> Parameter {
    let schema: RefOr<Schema> = match param.kind {
        Kind::Text => String::schema(),
        Kind::Integer { min, max } => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min as f64))
            .maximum((max < i64::MAX).then_some(max as f64))
            .into(),
        Kind::Time => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some("unix seconds"))
            .into(),
        Kind::Boolean => bool::schema(),
        Kind::List => String::schema(),
        Kind::OneOf(values) => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied()))
            .into(),
    };
    let mut description = param.description.to_owned();
    if matches!(param.kind, Kind::List) {
        description.push_str(" (a comma-separated list, or the key repeated)");
    }
    ParameterBuilder::new()
        .name(param.name)
        .parameter_in(place)
        .required(if param.required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn request_body(
    body: Body,
    schemas: &mut Schemas,
) -> Option<utoipa::openapi::request_body::RequestBody> {
    let json = |schema: RefOr<Schema>| ContentBuilder::new().schema(Some(schema)).build();
    let builder = RequestBodyBuilder::new();
    let builder = match body {
        Body::None => return None,
        Body::Json(schema) => builder
            .required(Some(Required::True))
            .content("application/json", json(schema(schemas))),
        Body::OptionalJson(schema) => builder
            .required(Some(Required::False))
            .content("application/json", json(schema(schemas))),
        Body::Compose | Body::ComposeOrMime => {
            let multipart = if matches!(body, Body::ComposeOrMime) {
                schema::<shapes::ComposeOrMimeMultipart>(schemas)
            } else {
                schema::<shapes::ComposeMultipart>(schemas)
            };
            builder
                .required(Some(Required::True))
                .content(
                    "application/json",
                    json(schema::<mailroom_model::v3::ComposeRequest>(schemas)),
                )
                .content("multipart/form-data", json(multipart))
        }
        Body::JsonOrForm(schema) => {
            let schema = schema(schemas);
            builder
                .required(Some(Required::True))
                .content("application/json", json(schema.clone()))
                .content("application/x-www-form-urlencoded", json(schema))
        }
        Body::Form => builder.required(Some(Required::True)).content(
            "application/x-www-form-urlencoded",
            json(schema::<shapes::AnyObject>(schemas)),
        ),
    };
    Some(builder.build())
}

fn envelope(data: Option<RefOr<Schema>>, extra: &[(&str, RefOr<Schema>, bool)]) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .property("request_id", String::schema())
        .required("request_id");
    if let Some(data) = data {
        object = object.property("data", data).required("data");
    }
    for (name, schema, required) in extra {
        object = object.property(*name, schema.clone());
        if *required {
            object = object.required(*name);
        }
    }
    object.into()
}

fn array_of(item: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(item).into()
}

fn json_response(description: &str, schema: RefOr<Schema>) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

fn answers(answer: Answer, schemas: &mut Schemas) -> Vec<(&'static str, ApiResponse)> {
    let integer = || -> RefOr<Schema> { i64::schema() };
    match answer {
        Answer::Item(data) => vec![(
            "200",
            json_response("The object", envelope(Some(data(schemas)), &[])),
        )],
        Answer::Created(data) => vec![(
            "201",
            json_response("Created", envelope(Some(data(schemas)), &[])),
        )],
        Answer::CreatedOrSignedInAgain(data) => {
            let body = envelope(Some(data(schemas)), &[]);
            vec![
                ("201", json_response("A grant was created", body.clone())),
                (
                    "200",
                    json_response("The mailbox's existing grant, signed in again", body),
                ),
            ]
        }
        Answer::Cursor(data) => vec![(
            "200",
            json_response(
                "A page; `next_cursor` only when another page exists (docs/API.md §1.5)",
                envelope(
                    Some(array_of(data(schemas))),
                    &[("next_cursor", String::schema(), false)],
                ),
            ),
        )],
        Answer::Offset(data) => vec![(
            "200",
            json_response(
                "A page",
                envelope(
                    Some(array_of(data(schemas))),
                    &[("limit", integer(), true), ("offset", integer(), true)],
                ),
            ),
        )],
        Answer::List(data) => vec![(
            "200",
            json_response(
                "The whole list",
                envelope(Some(array_of(data(schemas))), &[]),
            ),
        )],
        Answer::Done => vec![("200", json_response("Done", envelope(None, &[])))],
        Answer::Sent { scheduled } => {
            let message = schema::<mailroom_model::v3::Message>(schemas);
            let body = envelope(Some(message), &[("grant_id", String::schema(), true)]);
            let mut answers = vec![("200", json_response("The message as sent", body.clone()))];
            if scheduled {
                answers.push((
                    "202",
                    json_response("Scheduled: `send_at` is in the future", body),
                ));
            }
            answers
        }
        Answer::Bare(data) => vec![("200", json_response("The object", data(schemas)))],
        Answer::Bytes => vec![(
            "200",
            ResponseBuilder::new()
                .description("The attachment's bytes, with its content type")
                .content(
                    "*/*",
                    ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(SchemaType::Type(Type::String))
                                .content_media_type("application/octet-stream"),
                        ))
                        .build(),
                )
                .build(),
        )],
        Answer::Image => vec![(
            "200",
            ResponseBuilder::new()
                .description("A transparent 1×1 GIF")
                .content(
                    "image/gif",
                    ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(SchemaType::Type(Type::String))
                                .content_media_type("image/gif"),
                        ))
                        .build(),
                )
                .build(),
        )],
        Answer::Redirect => vec![(
            "302",
            ResponseBuilder::new()
                .description("On to the link's address, in `Location`")
                .build(),
        )],
        Answer::Page => vec![
            ("200", html("The page")),
            (
                "303",
                ResponseBuilder::new()
                    .description(
                        "On to the application's redirect URI (docs/API.md §2.3) or the provider",
                    )
                    .build(),
            ),
        ],
    }
}

fn html(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            "text/html",
            ContentBuilder::new().schema(Some(String::schema())).build(),
        )
        .build()
}

/// The failures a route may answer, each with its shape (docs/API.md §1.6).
fn error_responses(
    operation: &Operation,
    schemas: &mut Schemas,
) -> Vec<(&'static str, ApiResponse)> {
    let has_body = !matches!(operation.doc.body, Body::None);
    match operation.errors {
        Errors::Page => vec![
            (
                "400",
                html("The request cannot be served; the page says why"),
            ),
            ("403", html("The sign-in is not allowed")),
            ("429", html("Too many sign-in attempts; see `Retry-After`")),
            ("500", html("mailroom's own failure")),
            (
                "504",
                json_response(
                    "The request ran past its deadline",
                    schema::<shapes::Error>(schemas),
                ),
            ),
        ],
        Errors::OAuth => {
            let oauth = schema::<shapes::OAuthError>(schemas);
            vec![
                (
                    "400",
                    json_response("OAuth's error (docs/API.md §1.6)", oauth.clone()),
                ),
                (
                    "401",
                    json_response("The client or token is not known", oauth.clone()),
                ),
                ("500", json_response("mailroom's own failure", oauth)),
                (
                    "504",
                    json_response(
                        "The request ran past its deadline",
                        schema::<shapes::Error>(schemas),
                    ),
                ),
            ]
        }
        Errors::Envelope => {
            let error = schema::<shapes::Error>(schemas);
            let mut errors: Vec<(&'static str, &'static str)> = Vec::new();
            if !matches!(operation.auth, Auth::None) || has_body || !operation.doc.query.is_empty()
            {
                errors.push(("400", "The request or a parameter is malformed"));
            }
            if !matches!(operation.auth, Auth::None) {
                errors.push((
                    "401",
                    "No credential, or an unknown, expired or revoked one",
                ));
            }
            if let Auth::Scoped(_) = operation.auth {
                errors.push((
                    "403",
                    "The grant's scopes do not admit the route (docs/API.md §11)",
                ));
            }
            if operation.path.contains('{') || !matches!(operation.auth, Auth::None) {
                errors.push(("404", "No such object"));
            }
            let idempotent = operation
                .doc
                .headers
                .iter()
                .any(|header| header.name == IDEMPOTENCY_KEY_HEADER);
            if has_body {
                errors.push(("408", "The body did not arrive in time"));
            }
            if has_body || idempotent {
                errors.push((
                    "409",
                    "The change conflicts with what exists, or the first request with this \
                     Idempotency-Key has not finished",
                ));
            }
            if has_body {
                errors.push(("413", "The body is larger than the limit"));
            }
            if idempotent {
                errors.push((
                    "422",
                    "The Idempotency-Key was used with a different request",
                ));
            }
            if let Auth::Scoped(_) = operation.auth {
                errors.push(("429", "Too many requests for the grant; see `Retry-After`"));
            }
            if !matches!(operation.auth, Auth::None) {
                errors.push((
                    "500",
                    "mailroom's own failure; the detail is in the server log",
                ));
            }
            errors.push((
                "504",
                "The mail server failed or did not answer, or the request ran past its deadline",
            ));
            errors
                .into_iter()
                .map(|(status, description)| (status, json_response(description, error.clone())))
                .collect()
        }
    }
}

/// Shapes the API answers that are built by hand rather than from a model type: their
/// schemas, for the document only.
#[allow(dead_code, reason = "described, never built")]
pub mod shapes {
    use std::collections::BTreeMap;

    use serde_json::Value;
    use utoipa::ToSchema;

    /// The v3 error envelope (docs/API.md §1.6).
    #[derive(ToSchema)]
    pub struct Error {
        pub request_id: String,
        pub error: ErrorDetail,
    }

    #[derive(ToSchema)]
    pub struct ErrorDetail {
        /// `api.invalid_request_error`, `api.not_found_error`, … (docs/API.md §1.6).
        #[schema(rename = "type")]
        pub kind: String,
        pub message: String,
        /// The mail server's answer, where it explains the failure.
        #[schema(required = false)]
        pub provider_error: Option<Value>,
    }

    /// OAuth's error shape, on the token endpoints (docs/API.md §1.6).
    #[derive(ToSchema)]
    pub struct OAuthError {
        /// `invalid_request`, `invalid_client`, `invalid_grant`, …
        pub error: String,
        pub error_code: i64,
        pub error_description: String,
        pub error_uri: String,
        pub request_id: String,
    }

    /// `GET /healthz`.
    #[derive(ToSchema)]
    pub struct Health {
        pub status: String,
    }

    /// Any JSON object.
    #[derive(ToSchema)]
    pub struct AnyObject(BTreeMap<String, Value>);

    /// A message with `fields=raw_mime`: only these four (docs/API.md §5.1).
    #[derive(ToSchema)]
    pub struct RawMimeMessage {
        pub id: String,
        pub grant_id: String,
        pub object: String,
        /// base64url of the whole message.
        pub raw_mime: String,
    }

    /// A scheduled send (docs/API.md §5.2).
    #[derive(ToSchema)]
    pub struct Schedule {
        pub schedule_id: String,
        pub status: ScheduleStatus,
        pub close_time: Option<i64>,
        pub send_at: i64,
        /// The sent message, once sent.
        pub message_id: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct ScheduleStatus {
        /// `pending`, `sending`, `sent`, `cancelled` or `failed`.
        pub code: String,
        pub description: String,
    }

    /// What cancelling a scheduled send answers.
    #[derive(ToSchema)]
    pub struct ScheduleCancelled {
        pub message: String,
    }

    /// What deleting a webhook answers.
    #[derive(ToSchema)]
    pub struct WebhookDeleted {
        /// `success`.
        pub status: String,
    }

    /// A message or draft as multipart: its JSON in `message` (or `draft`), and any
    /// other part an attachment (docs/API.md §5.2).
    #[derive(ToSchema)]
    pub struct ComposeMultipart {
        /// The JSON of the message.
        #[schema(required = false)]
        pub message: Option<String>,
        /// The same, under the Node SDK's name for drafts.
        #[schema(required = false)]
        pub draft: Option<String>,
    }

    /// As [`ComposeMultipart`], or raw MIME in a part `mime` with `?type=mime`.
    #[derive(ToSchema)]
    pub struct ComposeOrMimeMultipart {
        #[schema(required = false)]
        pub message: Option<String>,
        #[schema(required = false)]
        pub draft: Option<String>,
        /// The whole message, sent as it is (with `?type=mime`).
        #[schema(required = false)]
        pub mime: Option<String>,
    }

    /// The body of creating or changing a folder (docs/API.md §5.5).
    #[derive(ToSchema)]
    pub struct FolderInput {
        /// The folder's name; required to create one.
        #[schema(required = false)]
        pub name: Option<String>,
        /// The folder to create it in or move it to; `null` for the top level.
        #[schema(required = false)]
        pub parent_id: Option<String>,
    }

    /// What a successful test event answers.
    #[derive(ToSchema)]
    pub struct Success(
        /// `success`.
        pub String,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment variable that rewrites `docs/openapi.json` from the code.
    const BLESS: &str = "MAILROOM_BLESS";

    #[test]
    fn the_document_is_the_committed_docs_openapi_json() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let generated = document_text();
        if std::env::var(BLESS).as_deref() == Ok("1") {
            std::fs::write(&path, &generated).expect("docs/openapi.json is written");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is not the document the code generates: a route, its \
             description or a wire type changed. Regenerate it with \
             `{BLESS}=1 cargo test -p mailroom-api --lib openapi`, look at the diff and \
             commit it."
        );
    }

    #[test]
    fn every_grant_route_of_the_table_has_a_description_and_its_scopes() {
        for route in crate::grant_routes::GRANT_ROUTES {
            assert!(
                !route.doc.summary.trim().is_empty(),
                "{} {}",
                route.method,
                route.path
            );
            assert!(
                !route.doc.section.is_empty(),
                "{} {}",
                route.method,
                route.path
            );
        }
        for route in crate::v3::V3_ROUTES {
            assert!(
                !route.doc.summary.trim().is_empty(),
                "{} {}",
                route.method,
                route.path
            );
        }
        let document = serde_json::to_value(document()).unwrap_or_default();
        for route in crate::grant_routes::GRANT_ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/v3/"))
        {
            let method = route.method.as_str().to_ascii_lowercase();
            let security = &document["paths"][route.path][&method]["security"];
            let scopes: Vec<&str> = security
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|requirement| requirement["grant_token"].as_array())
                .flatten()
                .filter_map(|scope| scope.as_str())
                .collect();
            assert_eq!(
                scopes,
                admitting(route.any_of),
                "{} {}",
                route.method,
                route.path
            );
            assert!(!scopes.is_empty());
        }
    }

    #[test]
    fn operation_ids_are_unique_and_tags_are_resources() {
        let mut seen = std::collections::BTreeSet::new();
        for operation in operations() {
            assert!(seen.insert(operation_id(&operation.method, operation.path)));
            assert!(
                !operation.doc.summary.is_empty(),
                "{} {}",
                operation.method,
                operation.path
            );
        }
        assert_eq!(tag_of("/v3/grants/{grant_id}/messages/send"), "messages");
        assert_eq!(tag_of("/v3/grants/{grant_id}"), "grants");
        assert_eq!(tag_of("/healthz"), "server");
    }
}
