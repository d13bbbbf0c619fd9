//! Every response names its request: `request_id` in the JSON body and the
//! `x-request-id` header (the Node SDK reads error ids from the header). A task-local
//! carries the id from the middleware to whatever builds the body, so no handler can
//! forget it.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};

tokio::task_local! {
    static REQUEST_ID: String;
}

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being handled (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

pub async fn assign_request_id(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER.clone(), value);
    }
    response
}
