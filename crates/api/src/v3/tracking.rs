//! The URLs a tracked message carries (docs/API.md §5.2): its image, whose loading is an
//! open, and its links' redirector, whose following is a click. Neither takes a
//! credential: the random token in the path names the message, and a link leads only to
//! the address recorded for it when the message was sent, so the redirector cannot be
//! pointed anywhere else. The recipient's address is kept anonymised.

use std::{net::IpAddr, sync::LazyLock};

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use mailroom_store::TrackingHit;

use crate::{
    clip::clip,
    error::ApiError,
    router::AppState,
    sign_in_limits::{KeyedLimiter, per_minute},
    v3::client_info::ClientInfo,
};

/// A transparent 1×1 GIF89a.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Hits counted per client network (its anonymised address) a minute. Past that the
/// image is still answered and links still lead on, but nothing is counted or written:
/// a flood from one network costs the store nothing.
const HITS_PER_NETWORK_PER_MINUTE: u32 = 240;
/// Networks remembered before the limiter forgets those that have gone quiet.
const SWEEP_ABOVE: usize = 100_000;

static HITS_BY_NETWORK: LazyLock<KeyedLimiter> =
    LazyLock::new(|| per_minute(HITS_PER_NETWORK_PER_MINUTE));

/// Whether a hit from `network` may be counted now.
fn within_network_share(network: &str) -> bool {
    if HITS_BY_NETWORK.len() > SWEEP_ABOVE {
        HITS_BY_NETWORK.retain_recent();
    }
    HITS_BY_NETWORK.check_key(&network.to_owned()).is_ok()
}

/// Tokens are 43 URL-safe base64 characters; anything else names no message.
fn plausible_token(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /v3/tracking/{token}/open.gif`: counts an open and answers the image, whatever
/// the token (a mail client shows nothing either way).
pub async fn open_image(
    State(state): State<AppState>,
    Path(token): Path<String>,
    client: ClientInfo,
) -> Response {
    if plausible_token(&token) {
        record(&state, &token, None, &client).await;
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache, must-revalidate, private"),
            ),
        ],
        PIXEL,
    )
        .into_response()
}

/// `GET /v3/tracking/{token}/links/{index}`: counts a click and redirects to the link's
/// recorded address; 404 for a token or index that names no tracked link.
pub async fn follow_link(
    State(state): State<AppState>,
    Path((token, index)): Path<(String, String)>,
    client: ClientInfo,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found("no such tracked link");
    let index: i64 = index.parse().map_err(|_| unknown())?;
    if !plausible_token(&token) || index < 0 {
        return Err(unknown());
    }
    let target = state
        .store
        .tracked_link(&token, index)
        .await?
        .ok_or_else(unknown)?;
    // Stored only after the same check when the message was sent; a URL's own
    // serialisation is ASCII, so it is a valid header value.
    let location = url::Url::parse(&target)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .and_then(|url| HeaderValue::from_str(url.as_str()).ok())
        .ok_or_else(unknown)?;
    record(&state, &token, Some(index), &client).await;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The token stays out of the destination's logs.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
    )
        .into_response())
}

/// Counts the hit; a failure to record it never keeps the image or the link from the
/// recipient.
async fn record(state: &AppState, token: &str, link: Option<i64>, client: &ClientInfo) {
    let ip = client.ip.as_deref().and_then(anonymised_ip);
    if !within_network_share(ip.as_deref().unwrap_or_default()) {
        tracing::debug!(
            link,
            "a tracking hit past its network's share is not counted"
        );
        return;
    }
    let user_agent = client.user_agent.as_deref().map(|ua| clip(ua, 512));
    let hit = TrackingHit {
        token,
        link,
        ip: ip.as_deref(),
        user_agent: user_agent.as_deref(),
    };
    match state.store.record_tracking_hit(&hit).await {
        Ok(outcome) => tracing::debug!(?outcome, link, "tracking hit"),
        Err(e) => tracing::warn!(error = %e, "a tracking hit could not be recorded"),
    }
}

/// The address with its host part dropped: the last octet of IPv4 (a /24), all but the
/// first 48 bits of IPv6 (a /48), as analytics anonymise addresses. An IPv4 address
/// mapped into IPv6 is treated as IPv4.
pub fn anonymised_ip(ip: &str) -> Option<String> {
    let ip: IpAddr = ip.parse().ok()?;
    Some(match ip {
        IpAddr::V4(v4) => anonymised_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => anonymised_v4(v4),
            None => {
                let s = v6.segments();
                std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string()
            }
        },
    })
}

fn anonymised_v4(v4: std::net::Ipv4Addr) -> String {
    let [a, b, c, _] = v4.octets();
    std::net::Ipv4Addr::new(a, b, c, 0).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_their_host_part() {
        assert_eq!(
            anonymised_ip("203.0.113.77").as_deref(),
            Some("203.0.113.0")
        );
        assert_eq!(
            anonymised_ip("2001:db8:abcd:12:1:2:3:4").as_deref(),
            Some("2001:db8:abcd::")
        );
        assert_eq!(
            anonymised_ip("::ffff:192.0.2.9").as_deref(),
            Some("192.0.2.0")
        );
        assert_eq!(anonymised_ip("not an address"), None);
    }

    #[test]
    fn a_network_s_hits_are_limited() {
        // However fast the loop, 1,000 hits cannot all fit in one network's share.
        let counted = (0..1_000)
            .filter(|_| within_network_share("192.0.2.0 (test)"))
            .count();
        assert!(counted < 1_000, "{counted}");
        assert!(counted >= HITS_PER_NETWORK_PER_MINUTE as usize, "{counted}");
        assert!(
            within_network_share("198.51.100.0 (test)"),
            "another network has its own"
        );
    }

    #[test]
    fn the_image_is_a_whole_gif() {
        assert!(PIXEL.starts_with(b"GIF89a"));
        assert_eq!(PIXEL.last(), Some(&0x3b));
    }

    #[test]
    fn tokens_are_checked_before_the_store_is_asked() {
        assert!(plausible_token(&"a".repeat(43)));
        assert!(plausible_token("Ab-_0123456789abcdefgh"));
        assert!(!plausible_token("short"));
        assert!(!plausible_token(&"a".repeat(65)));
        assert!(!plausible_token("../../etc/passwd-xxxxxxxxx"));
    }
}
