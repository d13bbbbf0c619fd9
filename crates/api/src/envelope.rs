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

/// A page of a cursor-paged list (messages, threads): `next_cursor` only when another
/// page exists. Written straight from its parts, without first copying `data` into one
/// `Value`: the fields are declared in the sorted order a `Value` would write them in,
/// so the bytes are the same.
pub struct CursorPage<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: Serialize> IntoResponse for CursorPage<T> {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<T> {
            data: Vec<T>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_cursor: Option<String>,
            request_id: String,
        }
        Json(Body {
            data: self.data,
            next_cursor: self.next_cursor,
            request_id: current_request_id(),
        })
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_cursor_page_writes_what_one_json_value_would() {
        let data = vec![
            json!({"b": 1, "a": [1, {"z": null, "y": "é\"\n"}]}),
            json!("x"),
        ];
        for next_cursor in [None, Some("abc".to_owned())] {
            let page = CursorPage {
                data: data.clone(),
                next_cursor: next_cursor.clone(),
            };
            let mut expected = json!({"request_id": current_request_id(), "data": data});
            if let Some(cursor) = next_cursor {
                expected["next_cursor"] = serde_json::Value::String(cursor);
            }
            assert_eq!(
                body_of(page.into_response()).await,
                serde_json::to_vec(&expected).unwrap_or_default()
            );
        }
    }
}
