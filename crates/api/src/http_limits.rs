//! Limits every request lives within: a deadline for its body, a deadline for its whole
//! handling, and small bodies on the routes anyone may call without credentials.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Request, State},
    http::{StatusCode, header::CONTENT_LENGTH},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::MethodRouter,
};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use tokio::time::Sleep;

use crate::{error::ApiError, grant_rate_limit::GrantRateLimit, oauth_error::OAuthError};

/// What the server allows one request.
#[derive(Clone)]
pub struct HttpLimits {
    /// The body must have arrived within this, counted from the request's head.
    pub body_timeout: Duration,
    /// The whole handling, body included; past it the handler is dropped and a 504
    /// answered.
    pub request_timeout: Duration,
    /// Requests per grant; `None`: no limit.
    pub grant_rate: Option<Arc<GrantRateLimit>>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            body_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            grant_rate: None,
        }
    }
}

/// The largest request body accepted on most routes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest body of a send or a draft: multipart carries attachments of up to 25 MB
/// in total, as Nylas allows, plus the JSON part and the multipart framing.
pub const MAX_MAIL_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The largest body on the routes that need no credentials (token exchange, revoke,
/// tokeninfo, the sign-in form): their fields fit in a few hundred bytes.
pub const MAX_UNAUTHENTICATED_BODY_BYTES: usize = 8 * 1024;

/// What a route reads as its body, which decides the largest one it accepts. Each
/// route of the tables (`crate::grant_routes`, `crate::v3`) and each route listed by
/// hand (`crate::v2`, `crate::dashboard`) says which it is, through [`RouteBody::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteBody {
    /// JSON of a few fields, read after the credentials are checked.
    Standard,
    /// A message with its attachments (sends, drafts, v2's uploads).
    Mail,
    /// Read before any credential is checked (the sign-in and token routes, the
    /// dashboard's forms): small, and read here up to the limit and no further.
    BeforeCredentials,
}

/// The error shape a refused body takes: the route's own (docs/API.md §1.6, §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalShape {
    /// The v3 envelope.
    Envelope,
    /// The OAuth shape of the token endpoints, which the SDKs read.
    OAuth,
    /// v2's `{"message", "type"}`.
    V2,
}

impl RouteBody {
    pub fn limit(self) -> usize {
        match self {
            RouteBody::Standard => MAX_BODY_BYTES,
            RouteBody::Mail => MAX_MAIL_BODY_BYTES,
            RouteBody::BeforeCredentials => MAX_UNAUTHENTICATED_BODY_BYTES,
        }
    }

    /// The route with this body limit: extractors stop at it, a body declared longer is
    /// refused at once, and a body read before credentials is read here, up to it.
    pub fn apply<S: Clone + Send + Sync + 'static>(
        self,
        route: MethodRouter<S>,
        shape: RefusalShape,
    ) -> MethodRouter<S> {
        route
            .layer::<_, std::convert::Infallible>(middleware::from_fn_with_state(
                (self, shape),
                refuse_oversized_bodies,
            ))
            .layer(DefaultBodyLimit::max(self.limit()))
    }
}

/// Refuses a body over the route's limit: at once when its declared length says so,
/// and on the routes without credentials also a body sent without a length, read up to
/// the limit and no further. Other routes check credentials before reading their body,
/// and their extractors stop at the limit.
async fn refuse_oversized_bodies(
    State((body_kind, shape)): State<(RouteBody, RefusalShape)>,
    request: Request,
    next: Next,
) -> Response {
    let limit = body_kind.limit();
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return refusal(shape, ApiError::payload_too_large(limit));
    }
    if body_kind != RouteBody::BeforeCredentials {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return refusal(shape, ApiError::payload_too_large(limit));
        }
        Err(e) if timed_out(&*e) => {
            let late = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "api.invalid_request_payload",
                "the request body did not arrive in time",
            );
            return refusal(shape, late);
        }
        Err(e) => {
            let unreadable =
                ApiError::invalid_payload(format!("the request body could not be read: {e}"));
            return refusal(shape, unreadable);
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A refused body, in the route's error shape.
fn refusal(shape: RefusalShape, error: ApiError) -> Response {
    match shape {
        RefusalShape::V2 => {
            let body =
                serde_json::json!({"message": error.message, "type": "invalid_request_error"});
            (error.status, axum::Json(body)).into_response()
        }
        RefusalShape::OAuth => OAuthError {
            status: error.status,
            error: "invalid_request",
            description: error.message,
        }
        .into_response(),
        RefusalShape::Envelope => error.into_response(),
    }
}

/// Puts the body under its deadline and the handling under the request deadline, and
/// hands the per-grant limit to the extractor that knows the grant.
pub async fn enforce_limits(
    State(limits): State<HttpLimits>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(grant_rate) = &limits.grant_rate {
        parts.extensions.insert(grant_rate.clone());
    }
    let body = Body::new(DeadlineBody {
        inner: body,
        deadline: Box::pin(tokio::time::sleep(limits.body_timeout)),
    });
    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
    let handling = next.run(Request::from_parts(parts, body));
    match tokio::time::timeout(limits.request_timeout, handling).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, "request stopped at the request deadline");
            ApiError::deadline_exceeded(limits.request_timeout).into_response()
        }
    }
}

/// A request body that fails once its deadline has passed, however slowly it trickles.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

/// Whether `e` is, or was caused by, a body past its deadline.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(error) = current {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        current = error.source();
    }
    false
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
