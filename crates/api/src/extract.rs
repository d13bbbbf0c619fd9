//! Extractors that turn malformed input into clear 400s in the v3 envelope.

use axum::http::StatusCode;
use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::{error::ApiError, router::MAX_BODY_BYTES};

/// A JSON object as the body; a parse failure says what is wrong and where. Every body
/// the API takes is an object: anything else (an array, which serde would otherwise read
/// into a struct field by field) is refused.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        if !value.is_object() {
            return Err(ApiError::invalid_payload(
                "the request body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid_payload(format!("the request body does not fit: {e}")))
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::invalid_payload(
            "the request body must be JSON, sent with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::invalid_payload(format!(
            "the request body is not valid JSON: {}",
            source_text(&e)
        )),
        JsonRejection::JsonDataError(e) => ApiError::invalid_payload(format!(
            "the request body does not fit: {}",
            source_text(&e)
        )),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "api.invalid_request_payload",
                format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
            )
        }
        JsonRejection::BytesRejection(e) => {
            ApiError::invalid_payload(format!("the request body could not be read: {e}"))
        }
        other => ApiError::invalid_payload(other.body_text()),
    }
}

/// The innermost message of an error (serde's, which names the field and position).
fn source_text(e: &dyn std::error::Error) -> String {
    let mut current = e;
    while let Some(inner) = current.source() {
        current = inner;
    }
    current.to_string()
}

/// The query string as key/value pairs, in both SDK dialects: repeated keys or comma
/// lists, `+` or `%20` for spaces, booleans in any case.
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_pairs(query).map(QueryParams)
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("the query string is malformed"))?,
    )
    .map(|q: axum::extract::Query<Vec<(String, String)>>| q.0)
    .map_err(|e| ApiError::bad_request(format!("the query string is malformed: {e}")))
    .and_then(|pairs| {
        // No stored text holds one (PostgreSQL refuses it), and SQLite's LIKE would read
        // a pattern only up to it.
        match pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            Some((key, _)) => Err(ApiError::bad_request(format!(
                "query parameter '{}' holds a NUL character",
                key.replace('\0', "\\0")
                    .chars()
                    .take(64)
                    .collect::<String>()
            ))),
            None => Ok(pairs),
        }
    })
}

impl QueryParams {
    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `key`, from repeated keys and comma lists alike.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("query parameter '{key}' must be an integer"))
                })
            })
            .transpose()
    }

    /// A non-negative integer no larger than `max`.
    pub fn bounded(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        match self.int(key)? {
            None => Ok(default),
            Some(value) if (min..=max).contains(&value) => Ok(value),
            Some(_) => Err(ApiError::bad_request(format!(
                "query parameter '{key}' must be between {min} and {max}"
            ))),
        }
    }
}

impl QueryParams {
    /// A boolean in either SDK dialect (`true`, `True`, `1`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_request(format!(
                "query parameter '{key}' must be true or false"
            ))),
        }
    }
}
