//! The mail providers mailroom connects through OAuth 2.0 and XOAUTH2/OAUTHBEARER: where
//! each one's authorization server and mail servers are, the scopes its mail needs, and
//! how a client proves itself at its token endpoint, from each provider's documentation.
//! The endpoints can be moved as a whole under another base URL: the testbed's
//! authorization server serves the same paths (`testbed/README.md`).

use crate::security::TransportSecurity;

/// A provider whose mailboxes are reached with OAuth 2.0 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthProvider {
    Google,
    Microsoft,
    Yahoo,
}

impl std::fmt::Display for OAuthProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mail server of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMailServer {
    pub host: String,
    pub port: u16,
    pub security: TransportSecurity,
}

/// Where a provider's authorization server answers, for one connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthEndpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: String,
    pub revocation: Option<String>,
    /// Microsoft's OpenID configuration for the tenant: it answers `invalid_tenant`
    /// for a tenant that does not exist, which the authorization page would only show
    /// to the user.
    pub tenant_configuration: Option<String>,
}

impl OAuthProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthProvider::Google => "google",
            OAuthProvider::Microsoft => "microsoft",
            OAuthProvider::Yahoo => "yahoo",
        }
    }

    /// The endpoints at the provider itself; `tenant` is Microsoft's (`common` when
    /// the connector names none) and ignored by the others.
    pub fn endpoints(self, tenant: &str) -> OAuthEndpoints {
        self.endpoints_at(None, tenant)
    }

    /// The endpoints, under `base` instead of the provider's own hosts when given: the
    /// testbed's authorization server serves each provider's paths under
    /// `<base>/google`, `<base>/microsoft`, `<base>/yahoo`.
    pub fn endpoints_at(self, base: Option<&str>, tenant: &str) -> OAuthEndpoints {
        // Each endpoint: its host at the provider, and its path (the same at both).
        let place = |host: &str, path: String| match base {
            Some(base) => format!("{}/{}{path}", base.trim_end_matches('/'), self.as_str()),
            None => format!("https://{host}{path}"),
        };
        match self {
            OAuthProvider::Google => OAuthEndpoints {
                authorization: place("accounts.google.com", "/o/oauth2/v2/auth".into()),
                token: place("oauth2.googleapis.com", "/token".into()),
                userinfo: Some(place("openidconnect.googleapis.com", "/v1/userinfo".into())),
                jwks: place("www.googleapis.com", "/oauth2/v3/certs".into()),
                revocation: Some(place("oauth2.googleapis.com", "/revoke".into())),
                tenant_configuration: None,
            },
            OAuthProvider::Microsoft => {
                let host = "login.microsoftonline.com";
                OAuthEndpoints {
                    authorization: place(host, format!("/{tenant}/oauth2/v2.0/authorize")),
                    token: place(host, format!("/{tenant}/oauth2/v2.0/token")),
                    // The ID token names the user; Microsoft's userinfo lives on Graph.
                    userinfo: None,
                    jwks: place(host, format!("/{tenant}/discovery/v2.0/keys")),
                    revocation: None,
                    tenant_configuration: Some(place(
                        host,
                        format!("/{tenant}/v2.0/.well-known/openid-configuration"),
                    )),
                }
            }
            OAuthProvider::Yahoo => {
                let host = "api.login.yahoo.com";
                OAuthEndpoints {
                    authorization: place(host, "/oauth2/request_auth".into()),
                    token: place(host, "/oauth2/get_token".into()),
                    userinfo: Some(place(host, "/openid/v1/userinfo".into())),
                    jwks: place(host, "/openid/v1/certs".into()),
                    revocation: Some(place(host, "/oauth2/revoke".into())),
                    tenant_configuration: None,
                }
            }
        }
    }

    /// What a connector asks for unless it says otherwise: the mailbox over IMAP and
    /// SMTP, a refresh token, and who the user is.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            OAuthProvider::Google => &["https://mail.google.com/", "openid", "email"],
            OAuthProvider::Microsoft => &[
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
                "offline_access",
                "openid",
                "email",
            ],
            OAuthProvider::Yahoo => &["mail-w", "openid", "email"],
        }
    }

    /// Whether the token endpoint takes the client's id and secret as HTTP Basic
    /// (Yahoo documents only that) rather than in the form body.
    pub fn client_auth_basic(self) -> bool {
        self == OAuthProvider::Yahoo
    }

    pub fn imap(self) -> ProviderMailServer {
        let host = match self {
            OAuthProvider::Google => "imap.gmail.com",
            OAuthProvider::Microsoft => "outlook.office365.com",
            OAuthProvider::Yahoo => "imap.mail.yahoo.com",
        };
        ProviderMailServer {
            host: host.to_owned(),
            port: 993,
            security: TransportSecurity::Ssl,
        }
    }

    pub fn smtp(self) -> ProviderMailServer {
        match self {
            OAuthProvider::Google => ProviderMailServer {
                host: "smtp.gmail.com".into(),
                port: 465,
                security: TransportSecurity::Ssl,
            },
            OAuthProvider::Microsoft => ProviderMailServer {
                host: "smtp.office365.com".into(),
                port: 587,
                security: TransportSecurity::Starttls,
            },
            OAuthProvider::Yahoo => ProviderMailServer {
                host: "smtp.mail.yahoo.com".into(),
                port: 465,
                security: TransportSecurity::Ssl,
            },
        }
    }
}

/// Where mailroom finds the providers: at their own hosts, or, for tests only, every
/// endpoint under one base URL and every mailbox on one IMAP and one SMTP server (the
/// testbed's, `testbed/README.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderTable {
    moved: Option<MovedProviders>,
}

/// The providers as a test places them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedProviders {
    pub base_url: String,
    pub imap: ProviderMailServer,
    pub smtp: ProviderMailServer,
}

impl ProviderTable {
    /// The providers at their own hosts.
    pub fn real() -> Self {
        Self::default()
    }

    pub fn moved(to: MovedProviders) -> Self {
        Self { moved: Some(to) }
    }

    pub fn is_moved(&self) -> bool {
        self.moved.is_some()
    }

    pub fn endpoints(&self, provider: OAuthProvider, tenant: &str) -> OAuthEndpoints {
        provider.endpoints_at(self.moved.as_ref().map(|m| m.base_url.as_str()), tenant)
    }

    pub fn imap(&self, provider: OAuthProvider) -> ProviderMailServer {
        match &self.moved {
            Some(moved) => moved.imap.clone(),
            None => provider.imap(),
        }
    }

    pub fn smtp(&self, provider: OAuthProvider) -> ProviderMailServer {
        match &self.moved {
            Some(moved) => moved.smtp.clone(),
            None => provider.smtp(),
        }
    }

    /// The `iss` of the provider's ID tokens (OpenID Connect Core, section 2). Microsoft
    /// names the tenant the user belongs to (`tid`), whatever tenant the flow went to.
    pub fn issuer(&self, provider: OAuthProvider, tenant_id: &str) -> String {
        let microsoft_path = format!("/{tenant_id}/v2.0");
        match (&self.moved, provider) {
            (Some(moved), OAuthProvider::Microsoft) => format!(
                "{}/microsoft{microsoft_path}",
                moved.base_url.trim_end_matches('/')
            ),
            (Some(moved), other) => {
                format!(
                    "{}/{}",
                    moved.base_url.trim_end_matches('/'),
                    other.as_str()
                )
            }
            (None, OAuthProvider::Google) => "https://accounts.google.com".into(),
            (None, OAuthProvider::Microsoft) => {
                format!("https://login.microsoftonline.com{microsoft_path}")
            }
            (None, OAuthProvider::Yahoo) => "https://api.login.yahoo.com".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_the_providers_own_unless_moved() {
        let google = OAuthProvider::Google.endpoints("common");
        assert_eq!(
            google.authorization,
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        assert_eq!(google.token, "https://oauth2.googleapis.com/token");
        let microsoft = OAuthProvider::Microsoft.endpoints("contoso.onmicrosoft.com");
        assert_eq!(
            microsoft.token,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let moved =
            OAuthProvider::Microsoft.endpoints_at(Some("http://127.0.0.1:31080/"), "common");
        assert_eq!(
            moved.authorization,
            "http://127.0.0.1:31080/microsoft/common/oauth2/v2.0/authorize"
        );
        let yahoo = OAuthProvider::Yahoo.endpoints_at(Some("http://127.0.0.1:31080"), "common");
        assert_eq!(yahoo.token, "http://127.0.0.1:31080/yahoo/oauth2/get_token");
        assert_eq!(
            OAuthProvider::Google
                .endpoints_at(Some("http://t"), "x")
                .jwks,
            "http://t/google/oauth2/v3/certs"
        );
    }

    #[test]
    fn issuers_are_the_providers_own_or_the_moved_ones() {
        let real = ProviderTable::real();
        let consumers = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert_eq!(
            real.issuer(OAuthProvider::Microsoft, consumers),
            format!("https://login.microsoftonline.com/{consumers}/v2.0")
        );
        assert_eq!(
            real.issuer(OAuthProvider::Google, "common"),
            "https://accounts.google.com"
        );
        assert_eq!(
            real.issuer(OAuthProvider::Yahoo, "common"),
            "https://api.login.yahoo.com"
        );
        let server = ProviderMailServer {
            host: "localhost".into(),
            port: 1143,
            security: TransportSecurity::Starttls,
        };
        let moved = ProviderTable::moved(MovedProviders {
            base_url: "http://127.0.0.1:31080/".into(),
            imap: server.clone(),
            smtp: server,
        });
        assert_eq!(
            moved.issuer(OAuthProvider::Microsoft, consumers),
            format!("http://127.0.0.1:31080/microsoft/{consumers}/v2.0")
        );
        assert_eq!(
            moved.issuer(OAuthProvider::Yahoo, "x"),
            "http://127.0.0.1:31080/yahoo"
        );
        assert_eq!(moved.imap(OAuthProvider::Google).host, "localhost");
        assert_eq!(real.imap(OAuthProvider::Google).host, "imap.gmail.com");
        assert!(moved.is_moved() && !real.is_moved());
    }

    #[test]
    fn every_provider_asks_for_mail_and_identity() {
        for provider in [
            OAuthProvider::Google,
            OAuthProvider::Microsoft,
            OAuthProvider::Yahoo,
        ] {
            let scopes = provider.default_scopes();
            assert!(
                scopes.contains(&"openid") && scopes.contains(&"email"),
                "{provider:?}"
            );
            assert_eq!(provider.imap().port, 993);
        }
        assert!(
            OAuthProvider::Microsoft
                .default_scopes()
                .contains(&"offline_access")
        );
        assert_eq!(
            OAuthProvider::Microsoft.smtp().security,
            TransportSecurity::Starttls
        );
        assert!(OAuthProvider::Yahoo.client_auth_basic());
        assert!(!OAuthProvider::Google.client_auth_basic());
    }
}
