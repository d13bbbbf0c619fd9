//! `Idempotency-Key` on sends (`POST …/messages/send`, `POST …/drafts/{id}`; docs/API.md
//! §5.2). A client that retries a send after a timeout must not send twice: the first
//! request with a key claims it for the grant, runs to its end even if its client goes
//! away, and its answer is kept a day; a repeat gets that answer (with
//! `Idempotent-Replayed: true`) and sends nothing. A repeat while the first is still
//! under way gets 409; a different request under the same key gets 422. A first request
//! that sent nothing (invalid, or refused by the SMTP server) frees the key, so the
//! client may try again with it.

use std::future::Future;

use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts, Request},
    http::{HeaderValue, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use mailroom_model::GrantId;
use mailroom_store::IdempotencyClaim;
use sha2::{Digest, Sha256};

use crate::{
    error::ApiError, http_limits::MAX_MAIL_BODY_BYTES, request_id::within_request, router::AppState,
};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header that marks a repeated answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// The longest key accepted.
const MAX_KEY_CHARS: usize = 255;
/// The largest answer kept (a Message object fits many times over).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The request's `Idempotency-Key`, if it has one: 1 to 255 visible ASCII characters.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY) else {
            return Ok(IdempotencyKey(None));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|key| {
                !key.is_empty()
                    && key.len() <= MAX_KEY_CHARS
                    && key.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the Idempotency-Key header must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
                ))
            })?;
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// Runs `send` at most once per key: see the module's documentation. Without a key it
/// just runs. With one, it runs as a task of its own, so that a client that gives up
/// (and the request's deadline) does not cut a send off half-way.
pub async fn at_most_once<F, Fut>(
    state: &AppState,
    grant_id: &GrantId,
    key: IdempotencyKey,
    request: Request,
    send: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    let Some(key) = key.0 else {
        return send(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_MAIL_BODY_BYTES).await.map_err(|e| {
        ApiError::invalid_payload(format!("the request body could not be read: {e}"))
    })?;
    let request_hash = fingerprint(&parts, &bytes);
    let different = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "api.invalid_request_payload",
            "this Idempotency-Key was used with a different request; use a new key for a new request",
        )
    };
    match state
        .store
        .claim_idempotency_key(grant_id, &key, &request_hash)
        .await?
    {
        IdempotencyClaim::Claimed => {}
        IdempotencyClaim::Answered {
            request_hash: first,
            ..
        }
        | IdempotencyClaim::UnderWay {
            request_hash: first,
        } if first != request_hash => return Err(different()),
        IdempotencyClaim::Answered {
            status, response, ..
        } => return Ok(replay(status, response)),
        IdempotencyClaim::UnderWay { .. } => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "api.conflict",
                "the first request with this Idempotency-Key has not finished (or mailroom stopped during it, \
                 and whether it was sent is unknown); nothing was sent again",
            ));
        }
    }
    let running = send(Request::from_parts(parts, Body::from(bytes)));
    let (store, grant_id) = (state.store.clone(), grant_id.clone());
    let task = tokio::spawn(within_request(async move {
        let outcome = running.await;
        let kept = match outcome {
            Ok(response) => keep(&store, &grant_id, &key, response).await,
            Err(error) if error.may_have_sent => {
                keep(&store, &grant_id, &key, error.into_response()).await
            }
            Err(error) => {
                if let Err(e) = store.release_idempotency_key(&grant_id, &key).await {
                    tracing::warn!(%grant_id, error = %e, "could not free an Idempotency-Key after a send that failed");
                }
                return Err(error);
            }
        };
        Ok(kept)
    }));
    task.await
        .map_err(|e| ApiError::internal(format!("the send stopped unexpectedly: {e}")))?
}

/// Keeps the answer for repeats, and gives it back.
async fn keep(
    store: &mailroom_store::Store,
    grant_id: &GrantId,
    key: &str,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(%grant_id, error = %e, "could not read a send's answer to keep it");
            return ApiError::internal("the send's answer could not be read").into_response();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Err(e) = store
        .answer_idempotency_key(grant_id, key, parts.status.as_u16(), &text)
        .await
    {
        // The key stays claimed: a repeat hears the outcome is unknown, never sends again.
        tracing::warn!(%grant_id, error = %e, "could not keep a send's answer for its Idempotency-Key");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The kept answer, marked as a repeat.
fn replay(status: u16, response: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut replayed = (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        response,
    )
        .into_response();
    replayed
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    replayed
}

/// What makes two requests the same: method, path and query, content type and body. A
/// multipart body's boundary is left out: a client that sends again builds a new one.
fn fingerprint(parts: &Parts, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multipart_boundary(content_type);
    match &boundary {
        Some(boundary) => {
            hash.update(b"multipart");
            hash.update([0]);
            for piece in split_on(body, boundary.as_bytes()) {
                hash.update(piece);
                hash.update([0]);
            }
        }
        None => {
            hash.update(content_type.as_bytes());
            hash.update([0]);
            hash.update(body);
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `boundary` parameter of a multipart content type (RFC 2046 §5.1.1).
fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, parameters) = content_type.split_once(';')?;
    if !kind.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    parameters.split(';').find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("boundary"))
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|boundary| !boundary.is_empty())
    })
}

/// `body` cut at every occurrence of `separator` (not empty), the separators left out.
fn split_on<'a>(body: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let current = rest?;
        let found = (!separator.is_empty())
            .then(|| {
                current
                    .windows(separator.len())
                    .position(|window| window == separator)
            })
            .flatten();
        match found {
            Some(at) => {
                rest = Some(&current[at + separator.len()..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(content_type: &str) -> Parts {
        let (parts, ()) = Request::post("/v3/grants/g/messages/send")
            .header("content-type", content_type)
            .body(())
            .expect("a request")
            .into_parts();
        parts
    }

    #[test]
    fn a_repeat_matches_whatever_its_multipart_boundary() {
        let body = |b: &str| {
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{{}}\r\n--{b}--\r\n"
            )
        };
        let first = fingerprint(
            &parts("multipart/form-data; boundary=aaa111"),
            body("aaa111").as_bytes(),
        );
        let again = fingerprint(
            &parts("multipart/form-data; boundary=zz9"),
            body("zz9").as_bytes(),
        );
        assert_eq!(first, again);
        let other = fingerprint(
            &parts("multipart/form-data; boundary=zz9"),
            body("zz9").replace("{}", "{\"x\":1}").as_bytes(),
        );
        assert_ne!(first, other);
    }

    #[test]
    fn json_bodies_and_paths_tell_requests_apart() {
        let json = parts("application/json");
        assert_eq!(
            fingerprint(&json, b"{\"a\":1}"),
            fingerprint(&json, b"{\"a\":1}")
        );
        assert_ne!(
            fingerprint(&json, b"{\"a\":1}"),
            fingerprint(&json, b"{\"a\":2}")
        );
        let (other_path, ()) = Request::post("/v3/grants/h/messages/send")
            .header("content-type", "application/json")
            .body(())
            .expect("a request")
            .into_parts();
        assert_ne!(fingerprint(&json, b"{}"), fingerprint(&other_path, b"{}"));
    }

    #[test]
    fn splitting_leaves_the_separators_out() {
        let pieces: Vec<&[u8]> = split_on(b"a--b--c", b"--").collect();
        assert_eq!(pieces, vec![&b"a"[..], b"b", b"c"]);
        let whole: Vec<&[u8]> = split_on(b"abc", b"").collect();
        assert_eq!(whole, vec![&b"abc"[..]]);
    }
}
