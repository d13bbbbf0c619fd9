//! Success envelopes: `{"request_id", "data"}` and its list forms.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::json;

use crate::request_id::current_request_id;

/// One object.
pub struct Item<T>(pub StatusCode, pub T);

impl<T: Serialize> Item<T> {
    pub fn ok(data: T) -> Self {
        Item(StatusCode::OK, data)
    }

    pub fn created(data: T) -> Self {
        Item(StatusCode::CREATED, data)
    }
}

impl<T: Serialize> IntoResponse for Item<T> {
    fn into_response(self) -> Response {
        let body = json!({"request_id": current_request_id(), "data": self.1});
        (self.0, Json(body)).into_response()
    }
}

/// A whole, unpaged list (an application's redirect URIs): no cursor, no offset.
pub struct List<T>(pub Vec<T>);

impl<T: Serialize> IntoResponse for List<T> {
    fn into_response(self) -> Response {
        Json(json!({"request_id": current_request_id(), "data": self.0})).into_response()
    }
}

/// A page of an offset-paged list (grants, connectors): echoes `limit` and `offset`.
pub struct OffsetPage<T> {
    pub data: Vec<T>,
    pub limit: i64,
    pub offset: i64,
}

impl<T: Serialize> IntoResponse for OffsetPage<T> {
    fn into_response(self) -> Response {
        let body = json!({
            "request_id": current_request_id(),
            "data": self.data,
            "limit": self.limit,
            "offset": self.offset,
        });
        Json(body).into_response()
    }
}

/// A body with only the request id, as deletes answer.
pub struct Done;

impl IntoResponse for Done {
    fn into_response(self) -> Response {
        Json(json!({"request_id": current_request_id()})).into_response()
    }
}
