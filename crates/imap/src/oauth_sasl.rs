//! Signing in with an OAuth 2.0 access token instead of a password: the `XOAUTH2` SASL
//! mechanism that Gmail, Outlook.com and Yahoo accept, and `OAUTHBEARER` (RFC 7628).
//! Both carry the token in the client's first response; a server that refuses it sends
//! a challenge holding its error (JSON), which the client answers with an empty
//! response so that the server ends the exchange with NO (RFC 7628, section 3.2.3).

/// The `XOAUTH2` client response: `user=<user>^Aauth=Bearer <token>^A^A`.
pub fn xoauth2_response(username: &str, access_token: &str) -> String {
    format!("user={username}\x01auth=Bearer {access_token}\x01\x01")
}

/// The `OAUTHBEARER` client response (RFC 7628, section 3.1): a GS2 header naming the
/// user, then the host, port and token as key-value pairs separated by ^A. A `,` or `=`
/// in the user name is escaped as the GS2 header requires (RFC 5801, section 4).
pub fn oauthbearer_response(username: &str, host: &str, port: u16, access_token: &str) -> String {
    let user = username.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {access_token}\x01\x01")
}

/// Answers the server's challenges: the response first, then empty ones (each later
/// challenge is the server's error report).
pub(crate) struct BearerAuthenticator {
    first: Option<String>,
}

impl BearerAuthenticator {
    pub(crate) fn new(response: String) -> Self {
        Self {
            first: Some(response),
        }
    }
}

impl async_imap::Authenticator for BearerAuthenticator {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.first.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use async_imap::Authenticator;

    use super::*;

    #[test]
    fn xoauth2_carries_user_and_token_between_control_a() {
        assert_eq!(
            xoauth2_response(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            ),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_follows_rfc_7628() {
        // RFC 7628, section 4.1, with the user's GS2 escaping of RFC 5801.
        assert_eq!(
            oauthbearer_response(
                "user@example.com",
                "server.example.com",
                143,
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
            ),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert!(oauthbearer_response("a,b=c", "h", 1, "t").starts_with("n,a=a=2Cb=3Dc,"));
    }

    #[test]
    fn a_refusal_challenge_gets_an_empty_answer() {
        let mut authenticator = BearerAuthenticator::new("first".into());
        assert_eq!(authenticator.process(b""), "first");
        assert_eq!(authenticator.process(br#"{"status":"401"}"#), "");
        assert_eq!(authenticator.process(b""), "");
    }
}
