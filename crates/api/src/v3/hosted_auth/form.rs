//! The sign-in form, as typed settings: what the user filled in, with empty server
//! fields left for the domain's own servers.

use mailroom_model::{SettingsFields, TransportSecurity};
use serde::Deserialize;

use super::page::FormFields;
use crate::server_origin::NamedServer;

/// The posted form.
#[derive(Deserialize)]
pub struct SignInForm {
    pub flow: String,
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub imap_host: String,
    #[serde(default)]
    pub imap_port: String,
    #[serde(default)]
    pub imap_security: String,
    #[serde(default)]
    pub smtp_host: String,
    #[serde(default)]
    pub smtp_port: String,
    #[serde(default)]
    pub smtp_security: String,
    #[serde(default)]
    pub smtp_username: String,
    #[serde(default)]
    pub smtp_password: String,
}

impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInForm")
            .field("flow", &self.flow)
            .field("email", &self.email)
            .field("imap_host", &self.imap_host)
            .field("smtp_host", &self.smtp_host)
            .finish_non_exhaustive()
    }
}

impl SignInForm {
    /// The settings the form gives; `Err` is shown on the page.
    pub fn settings(&self, smtp_required: bool) -> Result<SettingsFields, String> {
        let email = self.email.trim();
        if email.is_empty() || self.password.is_empty() {
            return Err("Enter your email address and password.".into());
        }
        if smtp_required && (self.smtp_username.trim().is_empty() || self.smtp_password.is_empty())
        {
            return Err("This application needs your SMTP username and password too.".into());
        }
        Ok(SettingsFields {
            email: Some(email.to_owned()),
            imap_username: Some(email.to_owned()),
            imap_password: Some(self.password.clone()),
            imap_host: filled(&self.imap_host),
            imap_port: port(&self.imap_port, "imap port")?,
            imap_security: security(&self.imap_security)?,
            smtp_username: filled(&self.smtp_username),
            smtp_password: Some(self.smtp_password.clone()).filter(|p| !p.is_empty()),
            smtp_host: filled(&self.smtp_host),
            smtp_port: port(&self.smtp_port, "smtp port")?,
            smtp_security: security(&self.smtp_security)?,
            ssl_required: None,
        })
    }

    /// What the user typed, to show again.
    pub fn fields(&self, smtp_required: bool) -> FormFields {
        FormFields {
            email: self.email.trim().to_owned(),
            imap_host: self.imap_host.trim().to_owned(),
            imap_port: self.imap_port.trim().to_owned(),
            imap_security: self.imap_security.clone(),
            smtp_host: self.smtp_host.trim().to_owned(),
            smtp_port: self.smtp_port.trim().to_owned(),
            smtp_security: self.smtp_security.clone(),
            smtp_username: self.smtp_username.trim().to_owned(),
            smtp_required,
            advanced_open: smtp_required,
        }
    }
}

/// Puts a suggested server where the form left the host empty (a typed host keeps the
/// port and security typed with it).
pub fn fill_servers(fields: &mut SettingsFields, imap: &NamedServer, smtp: &NamedServer) {
    if fields.imap_host.is_none() {
        fields.imap_host = Some(imap.host.clone());
        fields.imap_port = Some(imap.port);
        fields.imap_security = Some(imap.security);
    }
    if fields.smtp_host.is_none() {
        fields.smtp_host = Some(smtp.host.clone());
        fields.smtp_port = Some(smtp.port);
        fields.smtp_security = Some(smtp.security);
    }
}

fn filled(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

fn port(value: &str, name: &str) -> Result<Option<u16>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(port)),
        _ => Err(format!("The {name} must be a number from 1 to 65535.")),
    }
}

fn security(value: &str) -> Result<Option<TransportSecurity>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| "Choose SSL/TLS, STARTTLS or None as the security.".to_owned())
}
