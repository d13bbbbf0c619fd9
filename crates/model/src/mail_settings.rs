//! The IMAP/SMTP settings of a grant: what a caller sends, and what mailroom resolves and
//! keeps. Passwords travel apart from the rest so that they are only ever stored encrypted
//! and never shown.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{email_address::EmailAddress, known_providers, security::TransportSecurity};

/// Resolved, storable server settings. This is also the `settings` object of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MailServerSettings {
    pub imap_username: String,
    pub imap_host: String,
    pub imap_port: u16,
    pub imap_security: TransportSecurity,
    pub smtp_username: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: TransportSecurity,
}

/// The secrets of a grant; kept only encrypted at rest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailCredentials {
    pub imap_password: String,
    pub smtp_password: String,
}

impl std::fmt::Debug for MailCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailCredentials { .. }")
    }
}

/// One server of a grant, as a connection needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerEndpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: TransportSecurity,
    pub username: &'a str,
}

impl MailServerSettings {
    /// Whether both servers are the same hosts, ports and security as `other`'s (the
    /// usernames may differ): the same mailbox provider.
    pub fn same_servers(&self, other: &MailServerSettings) -> bool {
        (&self.imap_host, self.imap_port, self.imap_security)
            == (&other.imap_host, other.imap_port, other.imap_security)
            && (&self.smtp_host, self.smtp_port, self.smtp_security)
                == (&other.smtp_host, other.smtp_port, other.smtp_security)
    }

    pub fn imap(&self) -> ServerEndpoint<'_> {
        ServerEndpoint {
            host: &self.imap_host,
            port: self.imap_port,
            security: self.imap_security,
            username: &self.imap_username,
        }
    }

    pub fn smtp(&self) -> ServerEndpoint<'_> {
        ServerEndpoint {
            host: &self.smtp_host,
            port: self.smtp_port,
            security: self.smtp_security,
            username: &self.smtp_username,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("settings.{0} is required")]
    Missing(&'static str),
    #[error("settings.{field} {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error(
        "settings.{field} is required: mailroom has no server settings for the domain '{domain}'"
    )]
    UnknownDomain { field: &'static str, domain: String },
    /// A stored password goes only to the server it was given for.
    #[error(
        "settings.{field} is required: the {server} server or username changes, and the stored \
         password is only ever sent to the server it was given for"
    )]
    PasswordRequired {
        field: &'static str,
        server: &'static str,
    },
}

/// What a caller says about a mailbox's servers and credentials (custom auth, a grant
/// update, the sign-in form). Everything may be left out; hosts are checked when the
/// settings are resolved.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SettingsFields {
    pub email: Option<String>,
    pub imap_username: Option<String>,
    pub imap_password: Option<String>,
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
    pub imap_security: Option<TransportSecurity>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<TransportSecurity>,
    pub ssl_required: Option<bool>,
}

impl std::fmt::Debug for SettingsFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |p: &Option<String>| p.as_ref().map(|_| "<hidden>");
        f.debug_struct("SettingsFields")
            .field("email", &self.email)
            .field("imap_username", &self.imap_username)
            .field("imap_password", &hidden(&self.imap_password))
            .field("imap_host", &self.imap_host)
            .field("imap_port", &self.imap_port)
            .field("imap_security", &self.imap_security)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &hidden(&self.smtp_password))
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("ssl_required", &self.ssl_required)
            .finish()
    }
}

/// Settings to resolve; `previous` (on re-authentication or PATCH) fills what the caller
/// leaves out, except a password for a server it was not given for.
pub struct SettingsInput<'a> {
    pub fields: &'a SettingsFields,
    pub previous: Option<(&'a MailServerSettings, &'a MailCredentials)>,
}

/// What resolution yields: the settings to store, the secrets, and the grant's email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSettings {
    pub email: EmailAddress,
    pub servers: MailServerSettings,
    pub credentials: MailCredentials,
}

const KNOWN_KEYS: &[&str] = &[
    "email",
    "imap_username",
    "imap_password",
    "imap_host",
    "imap_port",
    "imap_security",
    "smtp_username",
    "smtp_password",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "ssl_required",
];

impl SettingsFields {
    /// The `settings` object of custom auth or a grant update: known keys only, strings
    /// where strings belong, ports from 1 to 65535 (as numbers or strings).
    pub fn from_json(settings: &Map<String, Value>) -> Result<Self, SettingsError> {
        if let Some(unknown) = settings.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(SettingsError::Invalid {
                field: "unknown",
                problem: format!(
                    "contains the unknown key '{unknown}'; known keys are {}",
                    KNOWN_KEYS.join(", ")
                ),
            });
        }
        let json = JsonSettings(settings);
        Ok(SettingsFields {
            email: json.string("email")?,
            imap_username: json.string("imap_username")?,
            imap_password: json.string("imap_password")?,
            imap_host: json.string("imap_host")?,
            imap_port: json.port("imap_port")?,
            imap_security: json.security("imap_security")?,
            smtp_username: json.string("smtp_username")?,
            smtp_password: json.string("smtp_password")?,
            smtp_host: json.string("smtp_host")?,
            smtp_port: json.port("smtp_port")?,
            smtp_security: json.security("smtp_security")?,
            ssl_required: json.bool("ssl_required")?,
        })
    }
}

impl SettingsInput<'_> {
    /// The grant's email and servers, without looking at passwords.
    pub fn resolve_servers(&self) -> Result<(EmailAddress, MailServerSettings), SettingsError> {
        let fields = self.fields;
        let prev = self.previous.map(|(s, _)| s);
        let imap_username = fields
            .imap_username
            .clone()
            .or_else(|| prev.map(|p| p.imap_username.clone()))
            .ok_or(SettingsError::Missing("imap_username"))?;
        let email = match &fields.email {
            Some(email) => parse_email("email", email)?,
            None => match (EmailAddress::parse(&imap_username), prev) {
                (Ok(email), _) => email,
                (Err(_), Some(p)) => parse_email("imap_username", &p.imap_username)
                    .map_err(|_| SettingsError::Missing("email"))?,
                (Err(_), None) => {
                    return Err(SettingsError::Invalid {
                        field: "imap_username",
                        problem: "is not an email address; also give settings.email".into(),
                    });
                }
            },
        };
        let known = known_providers::lookup(email.domain());
        let domain = email.domain().to_owned();
        let (imap_host, imap_port, imap_security) = self.server(
            Server::Imap,
            prev.map(|p| (p.imap_host.clone(), p.imap_port, p.imap_security))
                .or(known.map(|k| (k.imap_host.to_owned(), k.imap_port, k.imap_security))),
            &domain,
        )?;
        let (smtp_host, smtp_port, smtp_security) = self.server(
            Server::Smtp,
            prev.map(|p| (p.smtp_host.clone(), p.smtp_port, p.smtp_security))
                .or(known.map(|k| (k.smtp_host.to_owned(), k.smtp_port, k.smtp_security))),
            &domain,
        )?;
        // SMTP login follows the IMAP one unless it was set apart before or now.
        let smtp_username = match (&fields.smtp_username, prev) {
            (Some(name), _) => name.clone(),
            (None, Some(p)) if p.smtp_username != p.imap_username => p.smtp_username.clone(),
            (None, _) => imap_username.clone(),
        };
        if fields.ssl_required == Some(true)
            && (imap_security == TransportSecurity::None
                || smtp_security == TransportSecurity::None)
        {
            return Err(SettingsError::Invalid {
                field: "ssl_required",
                problem: "is true but a server's security is 'none'".into(),
            });
        }
        Ok((
            email,
            MailServerSettings {
                imap_username,
                imap_host,
                imap_port,
                imap_security,
                smtp_username,
                smtp_host,
                smtp_port,
                smtp_security,
            },
        ))
    }

    /// Servers and passwords. A stored password is carried over only to the very server
    /// and username it was given for: any change of either needs the password again.
    pub fn resolve(&self) -> Result<ResolvedSettings, SettingsError> {
        let (email, servers) = self.resolve_servers()?;
        let fields = self.fields;
        let prev = self.previous;
        let given_imap = fields.imap_password.clone().filter(|p| !p.is_empty());
        let imap_password = match (given_imap.clone(), prev) {
            (Some(password), _) => password,
            (None, Some((p, c))) if same_endpoint(p.imap(), servers.imap()) => {
                c.imap_password.clone()
            }
            (None, Some(_)) => {
                return Err(SettingsError::PasswordRequired {
                    field: "imap_password",
                    server: "IMAP",
                });
            }
            (None, None) => return Err(SettingsError::Missing("imap_password")),
        };
        if imap_password.is_empty() {
            return Err(SettingsError::Missing("imap_password"));
        }
        let smtp_password = match (fields.smtp_password.clone(), prev) {
            (Some(password), _) => password,
            // Set apart before: it stays apart, and stays with its server.
            (None, Some((p, c))) if c.smtp_password != c.imap_password => {
                if !same_endpoint(p.smtp(), servers.smtp()) {
                    return Err(SettingsError::PasswordRequired {
                        field: "smtp_password",
                        server: "SMTP",
                    });
                }
                c.smtp_password.clone()
            }
            // Shared with IMAP: a password given now goes to both; the stored one only to
            // the SMTP server it already went to.
            (None, Some((p, _)))
                if given_imap.is_none() && !same_endpoint(p.smtp(), servers.smtp()) =>
            {
                return Err(SettingsError::PasswordRequired {
                    field: "smtp_password",
                    server: "SMTP",
                });
            }
            (None, _) => imap_password.clone(),
        };
        Ok(ResolvedSettings {
            email,
            servers,
            credentials: MailCredentials {
                imap_password,
                smtp_password,
            },
        })
    }

    /// Host, port and security of one server: given values win; a port implies its
    /// conventional security and a security its conventional port; the rest comes from
    /// the previous settings or the known-provider table.
    fn server(
        &self,
        server: Server,
        fallback: Option<(String, u16, TransportSecurity)>,
        domain: &str,
    ) -> Result<(String, u16, TransportSecurity), SettingsError> {
        let (given_host, given_port, given_security) = match server {
            Server::Imap => (
                &self.fields.imap_host,
                self.fields.imap_port,
                self.fields.imap_security,
            ),
            Server::Smtp => (
                &self.fields.smtp_host,
                self.fields.smtp_port,
                self.fields.smtp_security,
            ),
        };
        let host_key = server.host_key();
        let host = match (given_host, &fallback) {
            (Some(host), _) => parse_host(host_key, host)?,
            (None, Some((host, _, _))) => host.clone(),
            (None, None) => {
                return Err(SettingsError::UnknownDomain {
                    field: host_key,
                    domain: domain.to_owned(),
                });
            }
        };
        let fallback_port = fallback.as_ref().map(|(_, p, _)| *p);
        let fallback_security = fallback.as_ref().map(|(_, _, s)| *s);
        let (port, security) = match (given_port, given_security) {
            (Some(port), Some(security)) => (port, security),
            (Some(port), None) => (port, TransportSecurity::default_for_port(port)),
            // Restating the current security keeps the current port.
            (None, Some(security)) if fallback_security == Some(security) => (
                fallback_port.unwrap_or(server.default_port(security)),
                security,
            ),
            (None, Some(security)) => (server.default_port(security), security),
            (None, None) => match (fallback_port, fallback_security) {
                (Some(port), Some(security)) => (port, security),
                _ => (
                    server.default_port(TransportSecurity::Ssl),
                    TransportSecurity::Ssl,
                ),
            },
        };
        Ok((host, port, security))
    }
}

/// Whether a stored password may go to `new`: the same host, port, security and username.
fn same_endpoint(old: ServerEndpoint<'_>, new: ServerEndpoint<'_>) -> bool {
    old == new
}

/// Typed reads of a JSON settings object.
struct JsonSettings<'a>(&'a Map<String, Value>);

impl JsonSettings<'_> {
    fn string(&self, key: &'static str) -> Result<Option<String>, SettingsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            Some(_) => Err(SettingsError::Invalid {
                field: key,
                problem: "must be a string".into(),
            }),
        }
    }

    fn bool(&self, key: &'static str) -> Result<Option<bool>, SettingsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(SettingsError::Invalid {
                field: key,
                problem: "must be true or false".into(),
            }),
        }
    }

    fn port(&self, key: &'static str) -> Result<Option<u16>, SettingsError> {
        let invalid = || SettingsError::Invalid {
            field: key,
            problem: "must be a port number from 1 to 65535".into(),
        };
        let number = match self.0.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(invalid)?,
            Some(Value::String(s)) => s.trim().parse::<u64>().map_err(|_| invalid())?,
            Some(_) => return Err(invalid()),
        };
        match u16::try_from(number) {
            Ok(port) if port > 0 => Ok(Some(port)),
            _ => Err(invalid()),
        }
    }

    fn security(&self, key: &'static str) -> Result<Option<TransportSecurity>, SettingsError> {
        self.string(key)?
            .map(|s| {
                s.parse().map_err(
                    |e: crate::security::InvalidSecurity| SettingsError::Invalid {
                        field: key,
                        problem: e.to_string(),
                    },
                )
            })
            .transpose()
    }
}

#[derive(Clone, Copy)]
enum Server {
    Imap,
    Smtp,
}

impl Server {
    fn host_key(self) -> &'static str {
        match self {
            Server::Imap => "imap_host",
            Server::Smtp => "smtp_host",
        }
    }

    fn default_port(self, security: TransportSecurity) -> u16 {
        match (self, security) {
            (Server::Imap, TransportSecurity::Ssl) => 993,
            (Server::Imap, _) => 143,
            (Server::Smtp, TransportSecurity::Ssl) => 465,
            (Server::Smtp, TransportSecurity::Starttls) => 587,
            (Server::Smtp, TransportSecurity::None) => 25,
        }
    }
}

fn parse_email(field: &'static str, value: &str) -> Result<EmailAddress, SettingsError> {
    EmailAddress::parse(value).map_err(|e| SettingsError::Invalid {
        field,
        problem: e.to_string(),
    })
}

fn parse_host(field: &'static str, value: &str) -> Result<String, SettingsError> {
    let host = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let plausible = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if plausible {
        Ok(host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned())
    } else {
        Err(SettingsError::Invalid {
            field,
            problem: format!(
                "'{}' is not a host name or IP address",
                value.chars().take(64).collect::<String>()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(settings: Value) -> SettingsFields {
        SettingsFields::from_json(settings.as_object().unwrap()).unwrap()
    }

    fn resolve(settings: Value) -> Result<ResolvedSettings, SettingsError> {
        let fields = SettingsFields::from_json(settings.as_object().unwrap())?;
        SettingsInput {
            fields: &fields,
            previous: None,
        }
        .resolve()
    }

    #[test]
    fn known_provider_fills_hosts_and_ports() {
        let r = resolve(json!({"imap_username": "a@icloud.com", "imap_password": "pw"})).unwrap();
        assert_eq!(r.servers.imap_host, "imap.mail.me.com");
        assert_eq!(r.servers.imap_port, 993);
        assert_eq!(r.servers.smtp_port, 587);
        assert_eq!(r.servers.smtp_security, TransportSecurity::Starttls);
        assert_eq!(r.servers.smtp_username, "a@icloud.com");
        assert_eq!(r.credentials.smtp_password, "pw");
    }

    #[test]
    fn unknown_domain_needs_hosts() {
        let err =
            resolve(json!({"imap_username": "a@example.test", "imap_password": "pw"})).unwrap_err();
        assert!(matches!(
            err,
            SettingsError::UnknownDomain {
                field: "imap_host",
                ..
            }
        ));
    }

    #[test]
    fn security_follows_port_and_port_follows_security() {
        let r = resolve(json!({
            "imap_username": "a@example.test", "imap_password": "pw",
            "imap_host": "mail.example.test", "imap_port": "143",
            "smtp_host": "mail.example.test", "smtp_security": "ssl"
        }))
        .unwrap();
        assert_eq!(r.servers.imap_security, TransportSecurity::Starttls);
        assert_eq!(
            (r.servers.smtp_port, r.servers.smtp_security),
            (465, TransportSecurity::Ssl)
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = resolve(json!({
            "imap_username": "a@aol.com", "imap_password": "pw", "imap_port": 70000
        }))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "settings.imap_port must be a port number from 1 to 65535"
        );
        let err = resolve(json!({"imap_username": "a@aol.com", "imap_password": 5})).unwrap_err();
        assert_eq!(err.to_string(), "settings.imap_password must be a string");
        let err = resolve(json!({"imap_username": "a@aol.com", "imap_pasword": "x"})).unwrap_err();
        assert!(err.to_string().contains("imap_pasword"));
    }

    #[test]
    fn new_password_carries_to_smtp_when_it_was_shared() {
        let first = resolve(json!({"imap_username": "a@aol.com", "imap_password": "old"})).unwrap();
        let update = fields(json!({"imap_password": "new"}));
        let r = SettingsInput {
            fields: &update,
            previous: Some((&first.servers, &first.credentials)),
        }
        .resolve()
        .unwrap();
        assert_eq!(r.credentials.smtp_password, "new");
        assert_eq!(r.servers, first.servers);
    }

    fn update(first: &ResolvedSettings, change: Value) -> Result<ResolvedSettings, SettingsError> {
        let change = fields(change);
        SettingsInput {
            fields: &change,
            previous: Some((&first.servers, &first.credentials)),
        }
        .resolve()
    }

    #[test]
    fn a_stored_password_never_follows_a_new_server() {
        let first = resolve(json!({"imap_username": "a@aol.com", "imap_password": "old"})).unwrap();
        for (change, field) in [
            (json!({"imap_host": "evil.example"}), "imap_password"),
            (json!({"imap_port": 143}), "imap_password"),
            (json!({"imap_security": "starttls"}), "imap_password"),
            (
                json!({"imap_username": "a@aol.com", "email": "a@aol.com", "imap_host": "imap.aol.com", "imap_port": 993, "smtp_host": "evil.example"}),
                "smtp_password",
            ),
            (json!({"smtp_port": 587}), "smtp_password"),
            (json!({"smtp_username": "other"}), "smtp_password"),
        ] {
            let err = update(&first, change.clone()).unwrap_err();
            assert_eq!(
                err,
                SettingsError::PasswordRequired {
                    field,
                    server: if field == "imap_password" {
                        "IMAP"
                    } else {
                        "SMTP"
                    }
                },
                "{change}"
            );
        }
        // With the password, the move is allowed; restating the same server is not a move.
        let moved = update(
            &first,
            json!({"imap_host": "imap.example", "imap_password": "new"}),
        )
        .unwrap();
        assert_eq!(moved.servers.imap_host, "imap.example");
        assert_eq!(moved.credentials.smtp_password, "new");
        let same = update(
            &first,
            json!({"imap_host": "imap.aol.com", "smtp_port": 465}),
        )
        .unwrap();
        assert_eq!(same.credentials, first.credentials);
    }

    #[test]
    fn a_separate_smtp_password_stays_with_its_server() {
        let first = resolve(json!({
            "imap_username": "a@aol.com", "imap_password": "imap-pw", "smtp_password": "smtp-pw"
        }))
        .unwrap();
        // A new IMAP password does not reach the SMTP server, and the stored SMTP
        // password does not follow a new SMTP host.
        let r = update(&first, json!({"imap_password": "imap-new"})).unwrap();
        assert_eq!(r.credentials.smtp_password, "smtp-pw");
        let err = update(
            &first,
            json!({"imap_password": "imap-new", "smtp_host": "smtp.example"}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("settings.smtp_password is required"),
            "{err}"
        );
    }
}
