//! Server settings of well-known mailbox providers, so a grant can be created from an
//! email address and a password alone.

use crate::{
    oauth_providers::OAuthProvider,
    security::TransportSecurity::{self, Ssl, Starttls},
};

/// Where one provider's IMAP and SMTP servers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownProvider {
    pub name: &'static str,
    pub imap_host: &'static str,
    pub imap_port: u16,
    pub imap_security: TransportSecurity,
    pub smtp_host: &'static str,
    pub smtp_port: u16,
    pub smtp_security: TransportSecurity,
    /// The OAuth provider its mailboxes sign in with, where passwords are refused
    /// (Microsoft) or need an app password many accounts cannot make (Google, Yahoo).
    pub oauth: Option<OAuthProvider>,
}

const fn provider(
    name: &'static str,
    imap_host: &'static str,
    smtp_host: &'static str,
    smtp_port: u16,
    smtp_security: TransportSecurity,
) -> KnownProvider {
    KnownProvider {
        name,
        imap_host,
        imap_port: 993,
        imap_security: Ssl,
        smtp_host,
        smtp_port,
        smtp_security,
        oauth: None,
    }
}

const fn with_oauth(provider: KnownProvider, oauth: OAuthProvider) -> KnownProvider {
    KnownProvider {
        oauth: Some(oauth),
        ..provider
    }
}

const AOL: KnownProvider = provider("AOL", "imap.aol.com", "smtp.aol.com", 465, Ssl);
const ICLOUD: KnownProvider = provider(
    "iCloud",
    "imap.mail.me.com",
    "smtp.mail.me.com",
    587,
    Starttls,
);
const YAHOO: KnownProvider = with_oauth(
    provider(
        "Yahoo",
        "imap.mail.yahoo.com",
        "smtp.mail.yahoo.com",
        465,
        Ssl,
    ),
    OAuthProvider::Yahoo,
);
const FASTMAIL: KnownProvider = provider(
    "Fastmail",
    "imap.fastmail.com",
    "smtp.fastmail.com",
    465,
    Ssl,
);
const GMX_COM: KnownProvider = provider("GMX", "imap.gmx.com", "mail.gmx.com", 587, Starttls);
const GMX_NET: KnownProvider = provider("GMX", "imap.gmx.net", "mail.gmx.net", 587, Starttls);
const WEB_DE: KnownProvider = provider("WEB.DE", "imap.web.de", "smtp.web.de", 587, Starttls);
const ZOHO: KnownProvider = provider("Zoho", "imap.zoho.com", "smtp.zoho.com", 465, Ssl);
const YANDEX: KnownProvider = provider("Yandex", "imap.yandex.com", "smtp.yandex.com", 465, Ssl);
const OUTLOOK: KnownProvider = with_oauth(
    provider(
        "Outlook.com",
        "outlook.office365.com",
        "smtp-mail.outlook.com",
        587,
        Starttls,
    ),
    OAuthProvider::Microsoft,
);
const GMAIL: KnownProvider = with_oauth(
    provider("Gmail", "imap.gmail.com", "smtp.gmail.com", 465, Ssl),
    OAuthProvider::Google,
);
const MAIL_COM: KnownProvider =
    provider("mail.com", "imap.mail.com", "smtp.mail.com", 587, Starttls);
const COMCAST: KnownProvider = provider(
    "Comcast",
    "imap.comcast.net",
    "smtp.comcast.net",
    587,
    Starttls,
);

/// Email domains and the provider that hosts them.
const DOMAINS: &[(&str, KnownProvider)] = &[
    ("aol.com", AOL),
    ("aim.com", AOL),
    ("icloud.com", ICLOUD),
    ("me.com", ICLOUD),
    ("mac.com", ICLOUD),
    ("yahoo.com", YAHOO),
    ("ymail.com", YAHOO),
    ("rocketmail.com", YAHOO),
    ("yahoo.co.uk", YAHOO),
    ("yahoo.fr", YAHOO),
    ("yahoo.de", YAHOO),
    ("fastmail.com", FASTMAIL),
    ("fastmail.fm", FASTMAIL),
    ("gmx.com", GMX_COM),
    ("gmx.us", GMX_COM),
    ("gmx.net", GMX_NET),
    ("gmx.de", GMX_NET),
    ("gmx.at", GMX_NET),
    ("gmx.ch", GMX_NET),
    ("web.de", WEB_DE),
    ("zoho.com", ZOHO),
    ("zohomail.com", ZOHO),
    ("yandex.com", YANDEX),
    ("yandex.ru", YANDEX),
    ("ya.ru", YANDEX),
    ("outlook.com", OUTLOOK),
    ("hotmail.com", OUTLOOK),
    ("live.com", OUTLOOK),
    ("msn.com", OUTLOOK),
    ("gmail.com", GMAIL),
    ("googlemail.com", GMAIL),
    ("mail.com", MAIL_COM),
    ("comcast.net", COMCAST),
];

/// The provider hosting `domain`, if mailroom knows it.
pub fn lookup(domain: &str) -> Option<KnownProvider> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    DOMAINS
        .iter()
        .find(|(known, _)| *known == domain)
        .map(|(_, provider)| *provider)
}

/// Mail exchangers that say who hosts a domain's mailboxes: a domain whose MX host ends in
/// one of these keeps its mail at that provider.
const MX_SUFFIXES: &[(&str, KnownProvider)] = &[
    ("google.com", GMAIL),
    ("googlemail.com", GMAIL),
    ("outlook.com", OUTLOOK),
    ("yahoodns.net", YAHOO),
    ("messagingengine.com", FASTMAIL),
    ("icloud.com", ICLOUD),
    ("zoho.com", ZOHO),
    ("zoho.eu", ZOHO),
    ("yandex.net", YANDEX),
    ("gmx.net", GMX_NET),
    ("web.de", WEB_DE),
    ("aol.com", AOL),
];

/// The provider whose mail exchanger `mx_host` is, if mailroom knows it.
pub fn lookup_by_mx(mx_host: &str) -> Option<KnownProvider> {
    let host = mx_host.trim().trim_end_matches('.').to_ascii_lowercase();
    MX_SUFFIXES
        .iter()
        .find(|(suffix, _)| host.ends_with(&format!(".{suffix}")))
        .map(|(_, provider)| *provider)
}

/// Submission servers that file a copy of every message they send in the Sent folder
/// themselves; mailroom must not append a second one.
const SAVES_SENT_COPY: &[&str] = &[
    "smtp.gmail.com",
    "smtp-mail.outlook.com",
    "smtp.office365.com",
];

/// Whether the submission server at `smtp_host` keeps the Sent copy itself.
pub fn saves_sent_copy(smtp_host: &str) -> bool {
    SAVES_SENT_COPY
        .iter()
        .any(|host| host.eq_ignore_ascii_case(smtp_host.trim_end_matches('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_domains_resolve_case_insensitively() {
        let icloud = lookup("ME.com").unwrap();
        assert_eq!(icloud.imap_host, "imap.mail.me.com");
        assert_eq!(icloud.smtp_port, 587);
        assert_eq!(lookup("aol.com").unwrap().smtp_security, Ssl);
    }

    #[test]
    fn mail_exchangers_name_their_provider() {
        assert_eq!(lookup_by_mx("aspmx.l.google.com."), Some(GMAIL));
        assert_eq!(
            lookup_by_mx("example-com.mail.protection.outlook.com").map(|p| p.name),
            Some("Outlook.com")
        );
        assert_eq!(lookup_by_mx("mx.example.test"), None);
        // A suffix is a whole label: "evilgoogle.com" is not Google's.
        assert_eq!(lookup_by_mx("mx.evilgoogle.com"), None);
    }

    #[test]
    fn gmail_and_microsoft_submission_servers_file_their_own_sent_copy() {
        assert!(saves_sent_copy(GMAIL.smtp_host));
        assert!(saves_sent_copy("SMTP.Gmail.com."));
        assert!(saves_sent_copy(OUTLOOK.smtp_host));
        assert!(saves_sent_copy("smtp.office365.com"));
        assert!(!saves_sent_copy(YAHOO.smtp_host));
        assert!(!saves_sent_copy("smtp.gmail.com.example.test"));
    }

    #[test]
    fn unknown_domains_do_not_resolve() {
        assert_eq!(lookup("example.test"), None);
    }
}
