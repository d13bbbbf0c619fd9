//! The HTTP series (README.md, "Monitoring"): requests by method, route and status, and
//! their latency. A route is the template it matched (`/v3/grants/{grant_id}/messages`),
//! never the path asked for, so no id, address or typo becomes a label value.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    middleware::Next,
    response::Response,
};

const REQUESTS: &str = "mailroom_http_requests_total";
const DURATION: &str = "mailroom_http_request_duration_seconds";

/// The route label of a request that matched no route (answered 404).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Gives each series its help text; once, after the recorder is installed.
pub fn describe_http_metrics() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by method, route template and status code"
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time from a request's head to its response's head, by method and route template"
    );
}

pub async fn record_http_metrics(request: Request, next: Next) -> Response {
    let route = route_label(request.extensions().get::<MatchedPath>());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route).record(took);
    response
}

pub(crate) fn route_label(matched: Option<&MatchedPath>) -> String {
    matched.map_or_else(|| UNMATCHED_ROUTE.to_owned(), |m| m.as_str().to_owned())
}

/// The methods mailroom serves by name; any other (a client may send any token) is
/// `other`, so that the label's values stay few.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"FROBNICATE").expect("a method token")),
            "other"
        );
        assert_eq!(method_label(&Method::TRACE), "other");
    }
}
