//! The body of a send or draft request, in each form the SDKs use (docs/API.md §5.2):
//! JSON with base64 attachment `content`; `multipart/form-data` with the JSON in a
//! `message` (or `draft`) part and one part per attachment; raw MIME in a `mime` part
//! (`?type=mime`). An empty body is an empty request (sending a draft as it is).
//!
//! Body size is bounded by the route's `DefaultBodyLimit`, as for any extractor.

use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Request, multipart::MultipartError},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
};
use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use mailroom_model::v3::{ComposeAttachment, ComposeRequest};

use crate::clip::clip;
use crate::error::ApiError;

/// How errors name a multipart body.
const MULTIPART: &str = "the multipart/form-data body";
/// The type of an attachment that names none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug)]
// Made once per request and moved once into its handler: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ComposeInput {
    /// A composed message. Its attachments, with their bytes, are in `attachments` in
    /// the order given; `request.attachments` is left empty.
    Structured {
        request: ComposeRequest,
        attachments: Vec<AttachmentData>,
    },
    /// A whole RFC 822 message, to be sent as it is.
    RawMime(Vec<u8>),
}

/// An attachment of a composed message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentData {
    pub filename: Option<String>,
    pub content_type: String,
    pub content: Vec<u8>,
    pub content_id: Option<String>,
    pub content_disposition: Option<String>,
    pub is_inline: bool,
}

/// Reads a send or draft body. `raw_mime_allowed`: the route takes raw MIME (send with
/// `?type=mime`); elsewhere a `mime` part or a `message/rfc822` body is refused.
pub async fn read_compose(
    request: Request,
    raw_mime_allowed: bool,
) -> Result<ComposeInput, ApiError> {
    let raw_asked = asks_for_raw_mime(request.uri().query());
    if raw_asked && !raw_mime_allowed {
        return Err(ApiError::bad_request(
            "type=mime is accepted only by POST /v3/grants/{grant_id}/messages/send",
        ));
    }
    let media = media_type(request.headers());
    match media.as_deref() {
        Some("multipart/form-data") => read_multipart(request, raw_asked, raw_mime_allowed).await,
        Some("message/rfc822") if raw_mime_allowed => {
            let raw = read_bytes(request).await?;
            raw_message(raw.to_vec())
        }
        _ if raw_asked => Err(missing_mime_part()),
        None => structured_from_json(&read_bytes(request).await?, "the request body"),
        Some(json) if is_json(json) => {
            structured_from_json(&read_bytes(request).await?, "the request body")
        }
        Some(other) => {
            let other = other.to_owned();
            // A body-less POST (Python's draft send) may still carry a stray type.
            if read_bytes(request).await?.is_empty() {
                return Ok(empty_request());
            }
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "api.invalid_request_payload",
                format!(
                    "Content-Type '{other}' is not accepted here; send application/json or multipart/form-data"
                ),
            ))
        }
    }
}

fn is_json(media_type: &str) -> bool {
    matches!(media_type, "application/json" | "text/json") || media_type.ends_with("+json")
}

fn asks_for_raw_mime(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "type" && value.eq_ignore_ascii_case("mime"))
    })
}

/// `type/subtype` of the Content-Type header, lower case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

fn empty_request() -> ComposeInput {
    ComposeInput::Structured {
        request: ComposeRequest::default(),
        attachments: Vec::new(),
    }
}

async fn read_bytes(request: Request) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            unreadable(
                rejection.status(),
                "the request body",
                rejection.body_text(),
            )
        })
}

/// A body that could not be read: over the route's limit, or malformed.
fn unreadable(status: StatusCode, what: &str, detail: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "api.invalid_request_payload",
            "the request body is larger than this route accepts",
        )
    } else {
        ApiError::bad_request(format!("{what} cannot be read: {detail}"))
    }
}

fn missing_mime_part() -> ApiError {
    ApiError::bad_request(
        "type=mime needs a multipart/form-data body with the message in a part named 'mime'",
    )
}

fn raw_message(raw: Vec<u8>) -> Result<ComposeInput, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the raw MIME message is empty"));
    }
    Ok(ComposeInput::RawMime(raw))
}

/// The message JSON; `what` names where it came from in errors. Whitespace only reads
/// as `{}`. Errors read as the JSON extractor's do on every other route.
fn parse_request(json: &[u8], what: &str) -> Result<ComposeRequest, ApiError> {
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(ComposeRequest::default());
    }
    serde_json::from_slice(json).map_err(|e| {
        if e.is_data() {
            ApiError::invalid_payload(format!("{what} does not fit: {e}"))
        } else {
            ApiError::invalid_payload(format!("{what} is not valid JSON: {e}"))
        }
    })
}

fn structured_from_json(json: &[u8], what: &str) -> Result<ComposeInput, ApiError> {
    let mut request = parse_request(json, what)?;
    let attachments = std::mem::take(&mut request.attachments)
        .into_iter()
        .enumerate()
        .map(|(index, attachment)| match attachment.content.as_deref() {
            Some(content) => {
                let content = decode_base64(index, &attachment, content)?;
                Ok(from_metadata(attachment, content, None, None))
            }
            None => Err(ApiError::bad_request(format!(
                "attachment {} has no 'content': send its bytes base64-encoded there, or as a multipart/form-data part",
                label(index, &attachment)
            ))),
        })
        .collect::<Result<_, _>>()?;
    Ok(ComposeInput::Structured {
        request,
        attachments,
    })
}

/// A multipart part that is not the message JSON or raw MIME: an attachment's bytes.
struct FilePart {
    field_name: String,
    filename: Option<String>,
    content_type: Option<String>,
    content: Vec<u8>,
}

async fn read_multipart(
    request: Request,
    raw_asked: bool,
    raw_mime_allowed: bool,
) -> Result<ComposeInput, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| unreadable(rejection.status(), MULTIPART, rejection.body_text()))?;
    let mut message: Option<(String, Bytes)> = None;
    let mut mime: Option<Bytes> = None;
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        let filename = field
            .file_name()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        let content_type = field
            .content_type()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let content = field.bytes().await.map_err(multipart_error)?;
        match field_name.as_str() {
            "message" | "draft" => {
                if let Some((first, _)) = &message {
                    return Err(ApiError::bad_request(format!(
                        "the multipart body has both a '{first}' and a '{field_name}' part; send the message JSON once"
                    )));
                }
                message = Some((field_name, content));
            }
            "mime" => mime = Some(content),
            _ => files.push(FilePart {
                field_name,
                filename,
                content_type,
                content: content.to_vec(),
            }),
        }
    }

    if raw_asked || (raw_mime_allowed && message.is_none() && mime.is_some()) {
        return match mime {
            Some(raw) => raw_message(raw.to_vec()),
            None => Err(missing_mime_part()),
        };
    }
    if mime.is_some() {
        return Err(ApiError::bad_request(
            "a raw MIME ('mime') part is accepted only by POST /v3/grants/{grant_id}/messages/send?type=mime",
        ));
    }
    let Some((part_name, json)) = message else {
        return Err(ApiError::bad_request(
            "the multipart/form-data body has no 'message' part holding the message JSON",
        ));
    };
    let mut request = parse_request(&json, &format!("the '{part_name}' part"))?;
    let described = std::mem::take(&mut request.attachments);
    let attachments = match_parts(
        described,
        files,
        request.body.as_deref().unwrap_or_default(),
    )?;
    Ok(ComposeInput::Structured {
        request,
        attachments,
    })
}

fn multipart_error(e: MultipartError) -> ApiError {
    unreadable(e.status(), MULTIPART, e.body_text())
}

/// Pairs the attachments the JSON describes with the parts holding their bytes: by
/// content id, then by the SDKs' `file{N}` names, then in order. Parts no entry claims
/// are attachments of their own (the SDKs leave `attachments` out of the JSON).
fn match_parts(
    described: Vec<ComposeAttachment>,
    files: Vec<FilePart>,
    body: &str,
) -> Result<Vec<AttachmentData>, ApiError> {
    let mut files: Vec<Option<FilePart>> = files.into_iter().map(Some).collect();
    let mut attachments = Vec::with_capacity(described.len().max(files.len()));
    for (index, attachment) in described.into_iter().enumerate() {
        if let Some(content) = attachment.content.as_deref() {
            let content = decode_base64(index, &attachment, content)?;
            attachments.push(from_metadata(attachment, content, None, None));
            continue;
        }
        let unclaimed_named = |files: &[Option<FilePart>], name: &str| {
            files
                .iter()
                .position(|f| f.as_ref().is_some_and(|f| f.field_name == name))
        };
        let content_id = attachment.content_id.as_deref().map(bare_id);
        let position = content_id
            .and_then(|cid| unclaimed_named(&files, cid))
            .or_else(|| unclaimed_named(&files, &format!("file{index}")))
            .or_else(|| files.iter().position(Option::is_some));
        let Some(part) = position
            .and_then(|at| files.get_mut(at))
            .and_then(Option::take)
        else {
            return Err(ApiError::bad_request(format!(
                "attachment {} has no content: no multipart part named '{}' holds its bytes",
                label(index, &attachment),
                content_id.map_or_else(|| format!("file{index}"), str::to_owned)
            )));
        };
        let FilePart {
            filename,
            content_type,
            content,
            ..
        } = part;
        attachments.push(from_metadata(attachment, content, filename, content_type));
    }
    attachments.extend(
        files
            .into_iter()
            .flatten()
            .map(|part| from_part(part, body)),
    );
    Ok(attachments)
}

/// An attachment the JSON describes; a part's own filename and type fill what it leaves
/// out.
fn from_metadata(
    attachment: ComposeAttachment,
    content: Vec<u8>,
    part_filename: Option<String>,
    part_type: Option<String>,
) -> AttachmentData {
    let inline_disposition = attachment
        .content_disposition
        .as_deref()
        .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("inline"));
    AttachmentData {
        filename: non_empty(attachment.filename).or(part_filename),
        content_type: non_empty(attachment.content_type)
            .or(part_type)
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        content,
        content_id: non_empty(attachment.content_id).map(|cid| bare_id(&cid).to_owned()),
        content_disposition: non_empty(attachment.content_disposition),
        is_inline: attachment.is_inline || inline_disposition,
    }
}

/// An attachment known only from its part. A part named other than `file{N}` is named
/// after its content id (the SDKs' rule); it is inline when the HTML refers to it.
fn from_part(part: FilePart, body: &str) -> AttachmentData {
    let content_id = (!part.field_name.is_empty() && !is_file_index(&part.field_name))
        .then(|| bare_id(&part.field_name).to_owned());
    let is_inline = content_id
        .as_deref()
        .is_some_and(|cid| body.contains(&format!("cid:{cid}")));
    AttachmentData {
        filename: part.filename,
        content_type: part
            .content_type
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        content: part.content,
        content_id,
        content_disposition: None,
        is_inline,
    }
}

fn is_file_index(name: &str) -> bool {
    name.strip_prefix("file")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn bare_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(id)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// "0 ('report.pdf')" for error messages.
fn label(index: usize, attachment: &ComposeAttachment) -> String {
    match attachment.filename.as_deref().filter(|f| !f.is_empty()) {
        Some(filename) => format!("{index} ('{}')", clip(filename, 200)),
        None => index.to_string(),
    }
}

/// Standard base64 as the API documents it; line breaks, missing padding and the
/// URL-safe alphabet are tolerated because some clients send them.
fn decode_base64(
    index: usize,
    attachment: &ComposeAttachment,
    content: &str,
) -> Result<Vec<u8>, ApiError> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
    let compact: Vec<u8> = content
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(&compact)
        .or_else(|standard_error| URL_SAFE.decode(&compact).map_err(|_| standard_error))
        .map_err(|e| {
            ApiError::bad_request(format!(
                "attachment {}: 'content' is not valid base64 ({e})",
                label(index, attachment)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, extract::DefaultBodyLimit};
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    const BOUNDARY: &str = "----mailroom-test-boundary";
    const LIMIT: usize = 64 * 1024 * 1024;

    fn request(uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request {
        let mut builder = Request::builder().method("POST").uri(uri);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        let mut request = builder.body(body.into()).unwrap();
        DefaultBodyLimit::max(LIMIT).apply(&mut request);
        request
    }

    fn json_request(value: serde_json::Value) -> Request {
        request(
            "/v3/grants/g/messages/send",
            Some("application/json"),
            value.to_string(),
        )
    }

    /// One multipart part: field name, filename, content type, bytes.
    struct Part<'a> {
        name: &'a str,
        filename: Option<&'a str>,
        content_type: Option<&'a str>,
        content: &'a [u8],
    }

    fn part<'a>(name: &'a str, content: &'a [u8]) -> Part<'a> {
        Part {
            name,
            filename: None,
            content_type: None,
            content,
        }
    }

    fn file<'a>(
        name: &'a str,
        filename: &'a str,
        content_type: &'a str,
        content: &'a [u8],
    ) -> Part<'a> {
        Part {
            name,
            filename: Some(filename),
            content_type: Some(content_type),
            content,
        }
    }

    fn multipart_request(uri: &str, parts: &[Part<'_>]) -> Request {
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
            if let Some(filename) = part.filename {
                disposition.push_str(&format!("; filename=\"{filename}\""));
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = part.content_type {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(part.content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        request(
            uri,
            Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
            body,
        )
    }

    fn structured(input: ComposeInput) -> (ComposeRequest, Vec<AttachmentData>) {
        match input {
            ComposeInput::Structured {
                request,
                attachments,
            } => (request, attachments),
            ComposeInput::RawMime(_) => panic!("expected a structured request"),
        }
    }

    fn assert_mentions(error: &ApiError, text: &str) {
        assert!(
            error.message.contains(text),
            "{text:?} not in {:?}",
            error.message
        );
    }

    /// Reads a multipart body that must be a structured request.
    async fn read_parts(uri: &str, parts: &[Part<'_>]) -> (ComposeRequest, Vec<AttachmentData>) {
        let input = read_compose(multipart_request(uri, parts), false)
            .await
            .expect("the body should be read");
        structured(input)
    }

    async fn error(request: Request, raw_mime_allowed: bool) -> ApiError {
        read_compose(request, raw_mime_allowed)
            .await
            .expect_err("the body should be refused")
    }

    #[tokio::test]
    async fn json_with_base64_attachments() {
        let bytes: Vec<u8> = (0..=255).collect();
        let input = read_compose(
            json_request(json!({
                "to": [{"email": "bob@example.test"}],
                "subject": "Hi",
                "body": "<p>x</p>",
                "attachments": [
                    {"filename": "all.bin", "content_type": "application/octet-stream",
                     "content": STANDARD.encode(&bytes), "size": 256},
                    {"filename": "logo.png", "content_type": "image/png",
                     "content": "iVBO\nRw==", "content_id": "<logo>", "is_inline": true},
                    {"filename": "nopad.txt", "content": "aGk"},
                    {"filename": "urlsafe.bin", "content": "-_8="},
                ],
            })),
            false,
        )
        .await
        .unwrap();
        let (request, attachments) = structured(input);
        assert_eq!(request.subject.as_deref(), Some("Hi"));
        assert!(request.attachments.is_empty());
        assert_eq!(attachments.len(), 4);
        assert_eq!(attachments[0].content, bytes);
        assert_eq!(attachments[0].filename.as_deref(), Some("all.bin"));
        assert_eq!(attachments[1].content, [0x89, b'P', b'N', b'G']);
        assert_eq!(attachments[1].content_id.as_deref(), Some("logo"));
        assert!(attachments[1].is_inline);
        assert_eq!(attachments[2].content, b"hi");
        assert_eq!(attachments[2].content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(attachments[3].content, [0xfb, 0xff]);
    }

    #[tokio::test]
    async fn an_empty_body_or_empty_object_is_an_empty_request() {
        for (content_type, body) in [
            (None, ""),
            (Some("application/json"), "{}"),
            (Some("application/json"), ""),
            (Some("text/plain"), ""),
            (Some("application/json; charset=utf-8"), " {} "),
            (Some("application/vnd.api+json"), "{}"),
        ] {
            let input = read_compose(request("/v3/grants/g/drafts/d", content_type, body), false)
                .await
                .unwrap();
            let (request, attachments) = structured(input);
            assert_eq!(
                request,
                ComposeRequest::default(),
                "{content_type:?} {body:?}"
            );
            assert!(attachments.is_empty());
        }
    }

    #[tokio::test]
    async fn malformed_json_is_refused_with_the_problem_named() {
        let bad_syntax = error(
            request("/send", Some("application/json"), "{\"subject\": "),
            false,
        )
        .await;
        assert_eq!(bad_syntax.status, StatusCode::BAD_REQUEST);
        assert_mentions(&bad_syntax, "not valid JSON");

        let bad_shape = error(json_request(json!({"to": "bob@example.test"})), false).await;
        assert_eq!(bad_shape.status, StatusCode::BAD_REQUEST);
        assert_mentions(&bad_shape, "does not fit");
        assert_mentions(&bad_shape, "line 1");
    }

    #[tokio::test]
    async fn bad_base64_names_the_attachment() {
        let refused = error(
            json_request(json!({"attachments": [
                {"filename": "ok.txt", "content": "aGk="},
                {"filename": "broken.pdf", "content": "not*base64!"},
            ]})),
            false,
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_mentions(&refused, "1 ('broken.pdf')");
        assert_mentions(&refused, "base64");

        let missing = error(
            json_request(json!({"attachments": [{"filename": "a.txt"}]})),
            false,
        )
        .await;
        assert_mentions(&missing, "0 ('a.txt')");
    }

    #[tokio::test]
    async fn python_style_multipart() {
        // Python: the JSON in a `message` part with filename="" and a JSON type, no
        // `attachments` key, files as file0, file1….
        let message =
            json!({"to": [{"email": "bob@example.test"}], "subject": "Files"}).to_string();
        let binary: Vec<u8> = (0..=255).rev().collect();
        let (request, attachments) = read_parts(
            "/v3/grants/g/messages/send",
            &[
                Part {
                    name: "message",
                    filename: Some(""),
                    content_type: Some("application/json"),
                    content: message.as_bytes(),
                },
                file("file0", "report.pdf", "application/pdf", b"%PDF"),
                file("file1", "données.bin", "application/octet-stream", &binary),
            ],
        )
        .await;
        assert_eq!(request.subject.as_deref(), Some("Files"));
        assert_eq!(attachments.len(), 2);
        assert_eq!(attachments[0].filename.as_deref(), Some("report.pdf"));
        assert_eq!(attachments[0].content_type, "application/pdf");
        assert_eq!(attachments[0].content, b"%PDF");
        assert_eq!(attachments[0].content_id, None);
        assert!(!attachments[0].is_inline);
        assert_eq!(attachments[1].filename.as_deref(), Some("données.bin"));
        assert_eq!(attachments[1].content, binary);
    }

    #[tokio::test]
    async fn node_style_multipart_with_content_id_parts() {
        // Node: the JSON as a plain field; a part named after its content id when the
        // attachment has one.
        let message = json!({
            "to": [{"email": "bob@example.test"}],
            "body": "<p><img src=\"cid:logo-1\"></p>",
        })
        .to_string();
        let (_, attachments) = read_parts(
            "/v3/grants/g/drafts",
            &[
                part("message", message.as_bytes()),
                file("logo-1", "logo.png", "image/png", b"\x89PNG"),
                file("sig-2", "sig.png", "image/png", b"sig"),
                file("file2", "notes.txt", "text/plain", b"notes"),
            ],
        )
        .await;
        assert_eq!(attachments.len(), 3);
        assert_eq!(attachments[0].content_id.as_deref(), Some("logo-1"));
        assert!(attachments[0].is_inline, "the HTML refers to it");
        assert_eq!(attachments[1].content_id.as_deref(), Some("sig-2"));
        assert!(!attachments[1].is_inline, "nothing refers to it");
        assert_eq!(attachments[2].content_id, None);
        assert_eq!(attachments[2].content, b"notes");
    }

    #[tokio::test]
    async fn described_attachments_are_matched_to_parts_by_content_id_then_name_then_order() {
        let message = json!({
            "attachments": [
                {"filename": "described-b.txt", "content_type": "text/plain", "content_id": "b"},
                {"filename": "second.bin", "size": 3},
                {"filename": "inline.txt", "content": "aW5saW5l", "content_disposition": "inline"},
                {"content_type": "application/zip"},
            ],
        })
        .to_string();
        let (_, attachments) = read_parts(
            "/send",
            &[
                part("draft", message.as_bytes()),
                file("file1", "part-name.bin", "application/x-part", b"one"),
                file("other", "other.zip", "application/x-other", b"zip"),
                file("b", "b.txt", "text/x-part", b"bee"),
                file("extra", "extra.dat", "application/x-extra", b"extra"),
            ],
        )
        .await;
        let summary: Vec<(Option<&str>, &str, &[u8])> = attachments
            .iter()
            .map(|a| {
                (
                    a.filename.as_deref(),
                    a.content_type.as_str(),
                    a.content.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Some("described-b.txt"), "text/plain", &b"bee"[..]),
                (Some("second.bin"), "application/x-part", b"one"),
                (Some("inline.txt"), DEFAULT_CONTENT_TYPE, b"inline"),
                (Some("other.zip"), "application/zip", b"zip"),
                (Some("extra.dat"), "application/x-extra", b"extra"),
            ]
        );
        assert!(attachments[2].is_inline);
        assert_eq!(attachments[0].content_id.as_deref(), Some("b"));
        assert_eq!(attachments[4].content_id.as_deref(), Some("extra"));
    }

    #[tokio::test]
    async fn a_described_attachment_without_a_part_is_refused() {
        let message =
            json!({"attachments": [{"filename": "lost.pdf", "content_id": "lost"}]}).to_string();
        let refused = error(
            multipart_request("/send", &[part("message", message.as_bytes())]),
            false,
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_mentions(&refused, "'lost'");
    }

    #[tokio::test]
    async fn multipart_without_a_message_part_is_refused() {
        let refused = error(
            multipart_request("/send", &[file("file0", "a.txt", "text/plain", b"a")]),
            false,
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_mentions(&refused, "'message' part");

        let twice = error(
            multipart_request("/send", &[part("message", b"{}"), part("draft", b"{}")]),
            false,
        )
        .await;
        assert_mentions(&twice, "both");

        let bad_json = error(
            multipart_request("/send", &[part("message", b"{oops")]),
            false,
        )
        .await;
        assert!(
            bad_json
                .message
                .contains("'message' part is not valid JSON"),
            "{}",
            bad_json.message
        );
    }

    #[tokio::test]
    async fn raw_mime_in_a_mime_part() {
        let raw = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: raw\r\n\r\nbody\r\n";
        let input = read_compose(
            multipart_request(
                "/v3/grants/g/messages/send?type=mime",
                &[file("mime", "message.eml", "message/rfc822", raw)],
            ),
            true,
        )
        .await
        .unwrap();
        match input {
            ComposeInput::RawMime(bytes) => assert_eq!(bytes, raw),
            other => panic!("{other:?}"),
        }

        let no_part = error(
            multipart_request("/send?type=mime", &[part("message", b"{}")]),
            true,
        )
        .await;
        assert_mentions(&no_part, "'mime'");

        let not_here = error(
            multipart_request(
                "/drafts?type=mime",
                &[file("mime", "m.eml", "message/rfc822", raw)],
            ),
            false,
        )
        .await;
        assert_mentions(&not_here, "type=mime");

        let stray_part = error(
            multipart_request(
                "/drafts",
                &[
                    part("message", b"{}"),
                    file("mime", "m.eml", "message/rfc822", raw),
                ],
            ),
            false,
        )
        .await;
        assert_mentions(&stray_part, "'mime'");

        let json_body = error(
            request("/send?type=mime", Some("application/json"), "{}"),
            true,
        )
        .await;
        assert_mentions(&json_body, "'mime'");

        let empty = error(
            multipart_request(
                "/send?type=mime",
                &[file("mime", "m.eml", "message/rfc822", b"")],
            ),
            true,
        )
        .await;
        assert_mentions(&empty, "empty");
    }

    #[tokio::test]
    async fn a_message_rfc822_body_is_raw_mime_where_allowed() {
        let raw = b"To: b@example.test\r\n\r\nbody";
        let input = read_compose(request("/send", Some("message/rfc822"), &raw[..]), true)
            .await
            .unwrap();
        assert!(matches!(input, ComposeInput::RawMime(bytes) if bytes == raw));
        let refused = error(request("/drafts", Some("message/rfc822"), &raw[..]), false).await;
        assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn an_unknown_content_type_is_415() {
        let refused = error(request("/send", Some("text/csv"), "a,b"), false).await;
        assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_mentions(&refused, "text/csv");
        let broken = error(request("/send", Some("multipart/form-data"), "x"), false).await;
        assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_ten_megabyte_attachment_part() {
        let big: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let (_, attachments) = read_parts(
            "/send",
            &[
                part("message", b"{\"subject\": \"big\"}"),
                file("file0", "big.bin", "application/octet-stream", &big),
            ],
        )
        .await;
        assert_eq!(attachments.len(), 1);
        assert!(attachments[0].content == big, "10 MB part differs");
    }

    #[tokio::test]
    async fn a_body_over_the_route_limit_is_413() {
        let mut oversized = json_request(json!({"body": "x".repeat(2048)}));
        DefaultBodyLimit::max(1024).apply(&mut oversized);
        assert_eq!(
            error(oversized, false).await.status,
            StatusCode::PAYLOAD_TOO_LARGE
        );

        let mut oversized_parts = multipart_request(
            "/send",
            &[
                part("message", b"{}"),
                file("file0", "a", "x/y", &[0; 4096]),
            ],
        );
        DefaultBodyLimit::max(1024).apply(&mut oversized_parts);
        assert_eq!(
            error(oversized_parts, false).await.status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
