//! The Nylas v3 handlers, one file per resource. `routes` serves the application's routes
//! (applications, connectors, sign-in, tokens, grants, webhooks) from the table
//! [`V3_ROUTES`], each entry with its description for `crate::openapi`; the routes on a
//! grant's mailbox are in the one table of `crate::grant_routes`.

mod applications;
pub(crate) mod attachments;
pub(crate) mod calendars;
pub(crate) mod client_info;
pub mod compose_body;
pub(crate) mod connect_token;
mod connectors;
pub(crate) mod contacts;
mod custom_auth;
mod custom_oauth;
pub(crate) mod drafts;
pub(crate) mod events;
pub(crate) mod folder_changes;
pub(crate) mod folders;
pub(crate) mod grants;
pub(crate) mod hosted_auth;
pub(crate) mod message_cleaning;
pub(crate) mod message_json;
pub(crate) mod message_updates;
pub(crate) mod messages;
pub(crate) mod outgoing_mail;
mod redirect_uris;
pub(crate) mod schedules;
pub(crate) mod send;
pub(crate) mod template_renders;
pub(crate) mod templates;
pub(crate) mod thread_updates;
pub(crate) mod threads;
pub(crate) mod tracked_sends;
mod tracking;
mod webhooks;

use axum::{
    Router,
    http::Method,
    routing::{MethodRouter, delete, get, patch, post, put},
};
use mailroom_model::v3::{
    Application, Connector, ConnectorInput, CreateWebhookRequest, CustomAuthRequest, Grant,
    MockPayloadRequest, RedirectUri, RedirectUriInput, RenderHtmlRequest, RenderTemplateRequest,
    RenderedHtml, RenderedTemplate, SendTestEventRequest, Template, TemplateInput, TokenInfo,
    TokenRequest, TokenResponse, UpdateGrantRequest, UpdateWebhookRequest, Webhook,
    WebhookIpAddresses, WebhookNotification,
};

use crate::{
    http_limits::{RefusalShape, RouteBody},
    openapi::{Answer, Auth, Body, Errors, Kind, Param, RouteDoc, schema, shapes},
    router::AppState,
};

/// A v3 route outside a grant's mailbox, with who may call it and its description
/// (`crate::openapi`).
pub struct V3Route {
    pub method: Method,
    pub path: &'static str,
    pub auth: Auth,
    pub errors: Errors,
    pub handler: fn() -> MethodRouter<AppState>,
    pub doc: RouteDoc,
}

const PAGE: &[Param] = &[
    Param::new(
        "limit",
        Kind::Integer { min: 0, max: 200 },
        "At most this many (default 10)",
    ),
    Param::new(
        "offset",
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
        "Skip this many",
    ),
];

/// Cursor paging (docs/API.md §1.5), as the templates page.
pub(crate) const CURSOR_PAGE: &[Param] = &[
    Param::new(
        "limit",
        Kind::Integer {
            min: 1,
            max: i64::MAX,
        },
        "At most this many (default 50; more than 200 is capped)",
    ),
    Param::new(
        "page_token",
        Kind::Text,
        "The previous page's `next_cursor`",
    ),
];

const GRANT_FILTERS: &[Param] = &[
    Param::new(
        "limit",
        Kind::Integer { min: 1, max: 200 },
        "At most this many (default 10)",
    ),
    Param::new(
        "offset",
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
        "Skip this many",
    ),
    Param::new("email", Kind::Text, "Only the grant of this address"),
    Param::new(
        "grant_status",
        Kind::OneOf(&["valid", "invalid"]),
        "Only grants in this state",
    ),
    Param::new("provider", Kind::Text, "Only grants of this provider"),
    Param::new("ip", Kind::Text, "Only grants signed in from this address"),
    Param::new("since", Kind::Time, "Only grants created at or after"),
    Param::new("before", Kind::Time, "Only grants created before"),
    Param::new(
        "account_ids",
        Kind::List,
        "Only these grants (by their v2 account id)",
    ),
    Param::new(
        "sort_by",
        Kind::OneOf(&["created_at", "updated_at"]),
        "The order",
    ),
    Param::new("order_by", Kind::OneOf(&["asc", "desc"]), "The direction"),
];

const SIGN_IN: &[Param] = &[
    Param::new("client_id", Kind::Text, "The application").required(),
    Param::new(
        "redirect_uri",
        Kind::Text,
        "One of the application's redirect URIs",
    )
    .required(),
    Param::new("response_type", Kind::OneOf(&["code"]), "`code`"),
    Param::new(
        "access_type",
        Kind::OneOf(&["online", "offline"]),
        "`offline` adds a refresh token",
    ),
    Param::new(
        "provider",
        Kind::OneOf(&["imap", "google", "microsoft", "yahoo"]),
        "Where the mailbox is (default `imap`)",
    ),
    Param::new(
        "scope",
        Kind::Text,
        "Space-separated granular scopes (docs/API.md §11)",
    ),
    Param::new("state", Kind::Text, "Echoed back"),
    Param::new("login_hint", Kind::Text, "The address to prefill"),
    Param::new("options", Kind::Text, "`smtp_required`"),
    Param::new("code_challenge", Kind::Text, "PKCE"),
    Param::new(
        "code_challenge_method",
        Kind::Text,
        "PKCE: `S256` or `plain`",
    ),
];

/// The application's routes, each with its description; the router is built from it.
pub static V3_ROUTES: &[V3Route] = &[
    V3Route {
        method: Method::GET,
        path: "/v3/applications",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(applications::get_application),
        doc: RouteDoc::new("The calling application", "2.1")
            .answer(Answer::Item(schema::<Application>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/applications/redirect-uris",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(redirect_uris::list_redirect_uris),
        doc: RouteDoc::new("The application's redirect URIs", "2.1")
            .answer(Answer::List(schema::<RedirectUri>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/applications/redirect-uris",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(redirect_uris::create_redirect_uri),
        doc: RouteDoc::new("Register a redirect URI", "2.1")
            .body(Body::Json(schema::<RedirectUriInput>))
            .answer(Answer::Item(schema::<RedirectUri>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/applications/redirect-uris/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(redirect_uris::get_redirect_uri),
        doc: RouteDoc::new("One redirect URI", "2.1").answer(Answer::Item(schema::<RedirectUri>)),
    },
    V3Route {
        method: Method::PATCH,
        path: "/v3/applications/redirect-uris/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || patch(redirect_uris::update_redirect_uri),
        doc: RouteDoc::new("Change a redirect URI", "2.1")
            .body(Body::Json(schema::<RedirectUriInput>))
            .answer(Answer::Item(schema::<RedirectUri>)),
    },
    V3Route {
        method: Method::DELETE,
        path: "/v3/applications/redirect-uris/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || delete(redirect_uris::delete_redirect_uri),
        doc: RouteDoc::new("Remove a redirect URI", "2.1"),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/connectors",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(connectors::list_connectors),
        doc: RouteDoc::new("The application's connectors", "3")
            .query(PAGE)
            .answer(Answer::Offset(schema::<Connector>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/connectors",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(connectors::create_connector),
        doc: RouteDoc::new("Add a connector (one per provider)", "3")
            .body(Body::Json(schema::<ConnectorInput>))
            .answer(Answer::Created(schema::<Connector>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/connectors/{provider}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(connectors::get_connector),
        doc: RouteDoc::new("One connector", "3").answer(Answer::Item(schema::<Connector>)),
    },
    V3Route {
        method: Method::PATCH,
        path: "/v3/connectors/{provider}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || patch(connectors::update_connector),
        doc: RouteDoc::new("Change a connector (the Python SDK's verb)", "3")
            .body(Body::Json(schema::<ConnectorInput>))
            .answer(Answer::Item(schema::<Connector>)),
    },
    V3Route {
        method: Method::PUT,
        path: "/v3/connectors/{provider}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || put(connectors::update_connector),
        doc: RouteDoc::new("Change a connector (the Node SDK's verb)", "3")
            .body(Body::Json(schema::<ConnectorInput>))
            .answer(Answer::Item(schema::<Connector>)),
    },
    V3Route {
        method: Method::DELETE,
        path: "/v3/connectors/{provider}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || delete(connectors::delete_connector),
        doc: RouteDoc::new("Remove a connector", "3"),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/connect/custom",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(custom_auth::custom_auth),
        doc: RouteDoc::new("Create a grant from credentials the application holds", "2.5")
            .body(Body::Json(schema::<CustomAuthRequest>))
            .answer(Answer::CreatedOrSignedInAgain(schema::<Grant>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/connect/token",
        auth: Auth::None,
        errors: Errors::OAuth,
        handler: || post(connect_token::token),
        doc: RouteDoc::new("Exchange a code or a refresh token for an access token", "2.4")
            .body(Body::JsonOrForm(schema::<TokenRequest>))
            .answer(Answer::Bare(schema::<TokenResponse>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/connect/tokeninfo",
        auth: Auth::None,
        errors: Errors::OAuth,
        handler: || get(connect_token::token_info),
        doc: RouteDoc::new("What an access token or id token says", "2.6")
            .query(&[
                Param::new("access_token", Kind::Text, "An access token"),
                Param::new("id_token", Kind::Text, "An id token"),
            ])
            .answer(Answer::Item(schema::<TokenInfo>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/connect/revoke",
        auth: Auth::None,
        errors: Errors::OAuth,
        handler: || post(connect_token::revoke),
        doc: RouteDoc::new("Revoke a token and the tokens issued from it", "2.6")
            .query(&[Param::new("token", Kind::Text, "The token to revoke").required()]),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/connect/auth",
        auth: Auth::None,
        errors: Errors::Page,
        handler: || get(hosted_auth::sign_in_page),
        doc: RouteDoc::new("The hosted sign-in page", "2.2")
            .query(SIGN_IN)
            .answer(Answer::Page),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/connect/auth",
        auth: Auth::None,
        errors: Errors::Page,
        handler: || post(hosted_auth::sign_in_submit),
        doc: RouteDoc::new("The hosted sign-in form, submitted", "2.2")
            .body(Body::Form)
            .answer(Answer::Page),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/connect/callback",
        auth: Auth::None,
        errors: Errors::Page,
        handler: || get(hosted_auth::provider_callback),
        doc: RouteDoc::new("Where Google, Microsoft and Yahoo send the browser back", "2.2")
            .query(&[
                Param::new("code", Kind::Text, "The provider's code"),
                Param::new("state", Kind::Text, "The sign-in flow"),
                Param::new("error", Kind::Text, "The provider's refusal"),
            ])
            .answer(Answer::Page),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/grants",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(grants::list_grants),
        doc: RouteDoc::new("The application's grants", "4")
            .query(GRANT_FILTERS)
            .answer(Answer::Offset(schema::<Grant>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/grants/{grant_id}",
        auth: Auth::ApiKeyOrGrant,
        errors: Errors::Envelope,
        handler: || get(grants::get_grant),
        doc: RouteDoc::new("One grant", "4").answer(Answer::Item(schema::<Grant>)),
    },
    V3Route {
        method: Method::PATCH,
        path: "/v3/grants/{grant_id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || patch(grants::update_grant),
        doc: RouteDoc::new("Change a grant's settings or scopes", "4")
            .describe("New settings (a changed password) are tried on the mail server before they are kept.")
            .body(Body::Json(schema::<UpdateGrantRequest>))
            .answer(Answer::Item(schema::<Grant>)),
    },
    V3Route {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || delete(grants::delete_grant),
        doc: RouteDoc::new("Delete a grant and its index", "4"),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/webhooks",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(webhooks::list_webhooks),
        doc: RouteDoc::new("The application's webhooks", "6.1")
            .answer(Answer::List(schema::<Webhook>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/webhooks",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(webhooks::create_webhook),
        doc: RouteDoc::new("Subscribe a URL to triggers", "6.1")
            .describe("The URL is challenged first (docs/API.md §6.4); the answer holds `webhook_secret`, the only time it is shown.")
            .body(Body::Json(schema::<CreateWebhookRequest>))
            .answer(Answer::Item(schema::<Webhook>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/webhooks/ip-addresses",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(webhooks::ip_addresses),
        doc: RouteDoc::new("The addresses notifications come from", "6.1")
            .answer(Answer::Item(schema::<WebhookIpAddresses>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/webhooks/mock-payload",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(webhooks::mock_payload),
        doc: RouteDoc::new("A sample notification of a trigger", "6.1")
            .body(Body::Json(schema::<MockPayloadRequest>))
            .answer(Answer::Item(schema::<WebhookNotification>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/webhooks/send-test-event",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(webhooks::send_test_event),
        doc: RouteDoc::new("POST a sample notification to a URL", "6.1")
            .body(Body::Json(schema::<SendTestEventRequest>))
            .answer(Answer::Item(schema::<shapes::Success>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/webhooks/rotate-secret/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(webhooks::rotate_secret),
        doc: RouteDoc::new("A new secret for a webhook (the Node SDK's form)", "6.1")
            .answer(Answer::Item(schema::<Webhook>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/webhooks/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(webhooks::get_webhook),
        doc: RouteDoc::new("One webhook", "6.1").answer(Answer::Item(schema::<Webhook>)),
    },
    V3Route {
        method: Method::PUT,
        path: "/v3/webhooks/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || put(webhooks::update_webhook),
        doc: RouteDoc::new("Change a webhook", "6.1")
            .body(Body::Json(schema::<UpdateWebhookRequest>))
            .answer(Answer::Item(schema::<Webhook>)),
    },
    V3Route {
        method: Method::DELETE,
        path: "/v3/webhooks/{id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || delete(webhooks::delete_webhook),
        doc: RouteDoc::new("Remove a webhook", "6.1")
            .answer(Answer::Item(schema::<shapes::WebhookDeleted>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/templates",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(templates::list_app_templates),
        doc: RouteDoc::new("The application's templates", "5.10")
            .query(CURSOR_PAGE)
            .answer(Answer::Cursor(schema::<Template>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/templates",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(templates::create_app_template),
        doc: RouteDoc::new("Create a template of the application", "5.10")
            .describe("`name`, `subject` and `body` are required; `engine` is `mustache` unless named. Subject and body must compile in the engine.")
            .body(Body::Json(schema::<TemplateInput>))
            .answer(Answer::Item(schema::<Template>)),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/templates/render",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(template_renders::render_app_html),
        doc: RouteDoc::new("Render a body given in the request", "5.10")
            .body(Body::Json(schema::<RenderHtmlRequest>))
            .answer(Answer::Item(schema::<RenderedHtml>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/templates/{template_id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || get(templates::get_app_template),
        doc: RouteDoc::new("One template of the application", "5.10")
            .answer(Answer::Item(schema::<Template>)),
    },
    V3Route {
        method: Method::PUT,
        path: "/v3/templates/{template_id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || put(templates::update_app_template),
        doc: RouteDoc::new("Change a template of the application", "5.10")
            .describe("The fields given replace the stored ones; the result must compile.")
            .body(Body::Json(schema::<TemplateInput>))
            .answer(Answer::Item(schema::<Template>)),
    },
    V3Route {
        method: Method::DELETE,
        path: "/v3/templates/{template_id}",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || delete(templates::delete_app_template),
        doc: RouteDoc::new("Delete a template of the application", "5.10"),
    },
    V3Route {
        method: Method::POST,
        path: "/v3/templates/{template_id}/render",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || post(template_renders::render_app_template),
        doc: RouteDoc::new("Render a template of the application", "5.10")
            .describe("`strict` (default true): a variable missing from `variables` is a 400 naming it.")
            .body(Body::Json(schema::<RenderTemplateRequest>))
            .answer(Answer::Item(schema::<RenderedTemplate>)),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/tracking/{token}/open.gif",
        auth: Auth::None,
        errors: Errors::Envelope,
        handler: || get(tracking::open_image),
        doc: RouteDoc::new("A tracked message's image: loading it is an open", "5.2")
            .describe("Counts an open of the message sent with `tracking_options.opens` (a repeat from the same client within a minute is not counted) and announces `message.opened`. Answers the image whatever the token.")
            .answer(Answer::Image),
    },
    V3Route {
        method: Method::GET,
        path: "/v3/tracking/{token}/links/{index}",
        auth: Auth::None,
        errors: Errors::Envelope,
        handler: || get(tracking::follow_link),
        doc: RouteDoc::new("A tracked message's link: following it is a click", "5.2")
            .describe("Redirects to the address the link had when the message was sent (never another), counts the click and announces `message.link_clicked`.")
            .answer(Answer::Redirect),
    },
    V3Route {
        method: Method::PUT,
        path: "/v3/webhooks/{id}/rotate-secret",
        auth: Auth::ApiKey,
        errors: Errors::Envelope,
        handler: || put(webhooks::rotate_secret),
        doc: RouteDoc::new("A new secret for a webhook (the Python SDK's form)", "6.1")
            .answer(Answer::Item(schema::<Webhook>)),
    },
];

impl V3Route {
    /// A route anyone may call reads its (small) body before any credential; the rest
    /// check credentials first.
    fn body(&self) -> RouteBody {
        match self.auth {
            Auth::None => RouteBody::BeforeCredentials,
            _ => RouteBody::Standard,
        }
    }

    fn refusal_shape(&self) -> RefusalShape {
        match self.errors {
            Errors::OAuth => RefusalShape::OAuth,
            Errors::Envelope | Errors::Page => RefusalShape::Envelope,
        }
    }
}

/// The routes of [`V3_ROUTES`], methods of one path merged.
pub fn routes() -> Router<AppState> {
    let paths: std::collections::BTreeSet<&str> = V3_ROUTES.iter().map(|r| r.path).collect();
    let mut router = Router::new();
    for path in paths {
        let methods = V3_ROUTES
            .iter()
            .filter(|r| r.path == path)
            .fold(MethodRouter::new(), |merged, r| {
                merged.merge(r.body().apply((r.handler)(), r.refusal_shape()))
            });
        router = router.route(path, methods);
    }
    router
}
