//! The sign-in link, `GET /v3/connect/auth?…` (docs/API.md §2.2), read without I/O. What is
//! wrong with it is either shown on an error page (as long as the redirect URI is not
//! known to be the application's, nothing may be sent there) or, once it is, sent back
//! to the application as an OAuth error.

use mailroom_model::{ApplicationId, Provider, Scope};
use serde::Deserialize;

/// The longest `state` kept.
pub const MAX_STATE_LEN: usize = 256;

/// The query, as it comes.
#[derive(Debug, Default, Deserialize)]
pub struct AuthQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub provider: Option<String>,
    pub login_hint: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub access_type: Option<String>,
    pub options: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    /// Whether `response_type=token` may be asked (v2's `/oauth/authorize` only).
    #[serde(skip)]
    pub implicit_allowed: bool,
}

/// Who the link is for and where it returns: checked against the store before anything
/// else, because every other problem is reported by redirecting there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub application_id: ApplicationId,
    pub redirect_uri: String,
    pub state: Option<String>,
}

/// What the application asks of the sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRequest {
    pub scope: Vec<Scope>,
    /// `online` or `offline`.
    pub access_type: &'static str,
    pub login_hint: Option<String>,
    pub smtp_required: bool,
    pub code_challenge: Option<String>,
    /// Lower case: `plain` or `s256`; set only with a challenge.
    pub code_challenge_method: Option<String>,
    /// `imap` (mailroom's own page) unless the link names an OAuth provider.
    pub provider: Provider,
    /// What the provider's page should do (OpenID Connect Core, section 3.1.2.1:
    /// `none`, `login`, `consent`, `select_account`); Nylas's page prompts
    /// (`select_provider`, `detect`) are mailroom's page's business and not passed on.
    pub prompt: Option<&'static str>,
    /// `code`, or `token` for v2's implicit flow (RFC 6749, section 4.2).
    pub response_type: &'static str,
}

/// An OAuth error for the application's redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRefusal {
    pub error: &'static str,
    pub description: String,
}

/// The link read: its target, or a message for the error page; and what it asks, or why
/// the application gets an error back.
pub fn read_link(
    query: &AuthQuery,
) -> Result<(LinkTarget, Result<SignInRequest, LinkRefusal>), String> {
    let client_id = non_empty(&query.client_id).ok_or("The link has no client_id.")?;
    let application_id = ApplicationId::parse(client_id)
        .map_err(|_| "The client_id is not an application of this server.")?;
    let redirect_uri = non_empty(&query.redirect_uri).ok_or("The link has no redirect_uri.")?;
    if query
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_STATE_LEN)
    {
        return Err(format!(
            "The state parameter is longer than {MAX_STATE_LEN} characters."
        ));
    }
    let target = LinkTarget {
        application_id,
        redirect_uri: redirect_uri.to_owned(),
        state: query.state.clone(),
    };
    Ok((target, read_request(query)))
}

fn read_request(query: &AuthQuery) -> Result<SignInRequest, LinkRefusal> {
    let refuse = |error, description: &str| LinkRefusal {
        error,
        description: description.to_owned(),
    };
    let response_type = match query.response_type.as_deref() {
        Some("code") => "code",
        Some("token") if query.implicit_allowed => "token",
        _ => {
            return Err(refuse(
                "unsupported_response_type",
                "response_type must be 'code'",
            ));
        }
    };
    let provider = match non_empty(&query.provider) {
        None => Provider::Imap,
        Some(name) => name
            .parse::<Provider>()
            .map_err(|e| refuse("invalid_request", &e.to_string()))?,
    };
    let prompt = query
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split([',', ' '])
        .find_map(|p| match p.trim() {
            "none" => Some("none"),
            "login" => Some("login"),
            "consent" => Some("consent"),
            "select_account" => Some("select_account"),
            _ => None,
        });
    let scope_names: Vec<&str> = query
        .scope
        .as_deref()
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect();
    let scope =
        Scope::parse_list(&scope_names).map_err(|e| refuse("invalid_scope", &e.to_string()))?;
    let access_type = match query.access_type.as_deref().unwrap_or("online") {
        "online" => "online",
        "offline" => "offline",
        _ => {
            return Err(refuse(
                "invalid_request",
                "access_type must be 'online' or 'offline'",
            ));
        }
    };
    let method = query
        .code_challenge_method
        .as_deref()
        .map(str::to_ascii_lowercase);
    if query.code_challenge.is_some() && !matches!(method.as_deref(), None | Some("plain" | "s256"))
    {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be 'plain' or 'S256'",
        ));
    }
    let smtp_required = query
        .options
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .any(|o| o.trim() == "smtp_required");
    Ok(SignInRequest {
        scope,
        access_type,
        login_hint: non_empty(&query.login_hint).map(|h| h.trim().to_owned()),
        smtp_required,
        code_challenge_method: query.code_challenge.as_ref().and(method),
        code_challenge: query.code_challenge.clone(),
        provider,
        prompt,
        response_type,
    })
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "0b9c1f4e-5d36-4d4e-9a51-3c2f7b0a6d11";

    fn query(pairs: &[(&str, &str)]) -> AuthQuery {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let uri: axum::http::Uri = format!("/v3/connect/auth?{encoded}").parse().unwrap();
        axum::extract::Query::<AuthQuery>::try_from_uri(&uri)
            .unwrap()
            .0
    }

    /// A valid link's target with `extra` parameters added or replaced.
    fn read(
        extra: &[(&str, &str)],
    ) -> Result<(LinkTarget, Result<SignInRequest, LinkRefusal>), String> {
        let mut pairs = vec![
            ("client_id", APP),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
        ];
        for (key, value) in extra {
            pairs.retain(|(existing, _)| existing != key);
            pairs.push((key, value));
        }
        read_link(&query(&pairs))
    }

    #[test]
    fn a_full_link_is_read() {
        let (target, request) = read(&[
            ("scope", "email.read_only email.send"),
            ("access_type", "offline"),
            ("login_hint", " user@example.com "),
            ("state", "s-1"),
            ("options", "smtp_required"),
            ("code_challenge", "abc"),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        assert_eq!(target.redirect_uri, "https://app.example/cb");
        assert_eq!(target.state.as_deref(), Some("s-1"));
        let request = request.unwrap();
        assert_eq!(request.scope.len(), 2);
        assert_eq!(request.access_type, "offline");
        assert_eq!(request.login_hint.as_deref(), Some("user@example.com"));
        assert!(request.smtp_required);
        assert_eq!(request.code_challenge_method.as_deref(), Some("s256"));
    }

    #[test]
    fn problems_before_the_redirect_is_known_go_on_the_page() {
        assert!(
            read_link(&AuthQuery::default())
                .unwrap_err()
                .contains("client_id")
        );
        let no_redirect = query(&[("client_id", APP)]);
        assert!(
            read_link(&no_redirect)
                .unwrap_err()
                .contains("redirect_uri")
        );
        let blank = query(&[("client_id", "  "), ("redirect_uri", "https://a.example/")]);
        assert!(read_link(&blank).unwrap_err().contains("client_id"));
        let long_state = "s".repeat(MAX_STATE_LEN + 1);
        assert!(
            read(&[("state", &long_state)])
                .unwrap_err()
                .contains("state")
        );
    }

    #[test]
    fn problems_after_it_go_back_to_the_application() {
        for (extra, error) in [
            (("response_type", "token"), "unsupported_response_type"),
            (("provider", "exchange"), "invalid_request"),
            (("scope", "email.nonsense"), "invalid_scope"),
            (("access_type", "forever"), "invalid_request"),
            (("code_challenge_method", "md5"), "invalid_request"),
        ] {
            let mut extras = vec![extra];
            if extra.0 == "code_challenge_method" {
                extras.push(("code_challenge", "abc"));
            }
            let (_, request) = read(&extras).unwrap();
            assert_eq!(request.unwrap_err().error, error, "{extra:?}");
        }
    }

    #[test]
    fn a_method_without_a_challenge_is_dropped() {
        let (_, request) = read(&[("code_challenge_method", "S256")]).unwrap();
        assert_eq!(request.unwrap().code_challenge_method, None);
    }
}
