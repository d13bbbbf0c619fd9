//! Granular scopes: what a grant lets an application do with a mailbox.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "email.modify")]
    EmailModify,
    #[serde(rename = "email.read_only")]
    EmailReadOnly,
    #[serde(rename = "email.send")]
    EmailSend,
    #[serde(rename = "email.folders_and_labels")]
    EmailFoldersAndLabels,
    #[serde(rename = "email.metadata")]
    EmailMetadata,
    #[serde(rename = "email.drafts")]
    EmailDrafts,
    #[serde(rename = "calendar")]
    Calendar,
    #[serde(rename = "calendar.read_only")]
    CalendarReadOnly,
    #[serde(rename = "room_resources.read_only")]
    RoomResourcesReadOnly,
    #[serde(rename = "contacts")]
    Contacts,
    #[serde(rename = "contacts.read_only")]
    ContactsReadOnly,
}

pub const ALL_SCOPES: [Scope; 12] = [
    Scope::Email,
    Scope::EmailModify,
    Scope::EmailReadOnly,
    Scope::EmailSend,
    Scope::EmailFoldersAndLabels,
    Scope::EmailMetadata,
    Scope::EmailDrafts,
    Scope::Calendar,
    Scope::CalendarReadOnly,
    Scope::RoomResourcesReadOnly,
    Scope::Contacts,
    Scope::ContactsReadOnly,
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not a scope; known scopes are {known}", known = known_scopes())]
pub struct UnknownScope(pub String);

fn known_scopes() -> String {
    ALL_SCOPES.map(Scope::as_str).join(", ")
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Email => "email",
            Scope::EmailModify => "email.modify",
            Scope::EmailReadOnly => "email.read_only",
            Scope::EmailSend => "email.send",
            Scope::EmailFoldersAndLabels => "email.folders_and_labels",
            Scope::EmailMetadata => "email.metadata",
            Scope::EmailDrafts => "email.drafts",
            Scope::Calendar => "calendar",
            Scope::CalendarReadOnly => "calendar.read_only",
            Scope::RoomResourcesReadOnly => "room_resources.read_only",
            Scope::Contacts => "contacts",
            Scope::ContactsReadOnly => "contacts.read_only",
        }
    }

    /// Whether holding `self` gives what `needed` gives: a scope includes itself and the
    /// less permissive scopes of the same resource (`email.modify` ⊇ `email.read_only` ⊇
    /// `email.metadata`; `email.modify` ⊇ `email.folders_and_labels`; `calendar` ⊇
    /// `calendar.read_only`; `contacts` ⊇ `contacts.read_only`); `email` includes every
    /// email scope.
    pub fn includes(self, needed: Scope) -> bool {
        use Scope::*;
        self == needed
            || match self {
                Email => matches!(
                    needed,
                    EmailModify
                        | EmailReadOnly
                        | EmailSend
                        | EmailFoldersAndLabels
                        | EmailMetadata
                        | EmailDrafts
                ),
                EmailModify => matches!(
                    needed,
                    EmailReadOnly | EmailMetadata | EmailFoldersAndLabels
                ),
                EmailReadOnly => needed == EmailMetadata,
                Calendar => needed == CalendarReadOnly,
                Contacts => needed == ContactsReadOnly,
                _ => false,
            }
    }

    /// Whether a grant holding `held` may do what needs any one of `any_of`. A grant
    /// with no scopes holds them all.
    pub fn allows(held: &[Scope], any_of: &[Scope]) -> bool {
        held.is_empty()
            || held
                .iter()
                .any(|h| any_of.iter().any(|needed| h.includes(*needed)))
    }

    /// What a token issued for `token` scopes may do with a grant holding `grant`: the
    /// scopes both allow, each given once by its most permissive name (either list empty:
    /// the other). `None` when the two share nothing, which no list can say (an empty one
    /// means every scope).
    pub fn narrowed(grant: &[Scope], token: &[Scope]) -> Option<Vec<Scope>> {
        if token.is_empty() {
            return Some(grant.to_vec());
        }
        if grant.is_empty() {
            return Some(token.to_vec());
        }
        let common: Vec<Scope> = ALL_SCOPES
            .into_iter()
            .filter(|s| Scope::allows(grant, &[*s]) && Scope::allows(token, &[*s]))
            .collect();
        let named: Vec<Scope> = common
            .iter()
            .copied()
            .filter(|s| !common.iter().any(|other| other != s && other.includes(*s)))
            .collect();
        (!named.is_empty()).then_some(named)
    }

    /// Every scope that would allow what needs any one of `any_of`, most permissive first.
    pub fn sufficient_for(any_of: &[Scope]) -> Vec<Scope> {
        ALL_SCOPES
            .into_iter()
            .filter(|s| any_of.iter().any(|needed| s.includes(*needed)))
            .collect()
    }

    /// Parses a list of scope strings, refusing the first unknown one.
    pub fn parse_list<S: AsRef<str>>(values: &[S]) -> Result<Vec<Scope>, UnknownScope> {
        let mut scopes = Vec::with_capacity(values.len());
        for value in values {
            let scope = value.as_ref().parse()?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }
}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        ALL_SCOPES
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| UnknownScope(value.chars().take(64).collect()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips() {
        for scope in ALL_SCOPES {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }

    #[test]
    fn nesting_follows_the_resource() {
        use Scope::*;
        assert!(EmailModify.includes(EmailMetadata));
        assert!(EmailModify.includes(EmailFoldersAndLabels));
        assert!(!EmailModify.includes(EmailSend));
        assert!(!EmailModify.includes(EmailDrafts));
        assert!(EmailReadOnly.includes(EmailMetadata));
        assert!(!EmailReadOnly.includes(EmailModify));
        assert!(!EmailMetadata.includes(EmailReadOnly));
        assert!(!EmailSend.includes(EmailReadOnly));
        assert!(Calendar.includes(CalendarReadOnly) && !CalendarReadOnly.includes(Calendar));
        assert!(Contacts.includes(ContactsReadOnly));
        for scope in ALL_SCOPES {
            assert!(scope.includes(scope));
            let is_email = scope.as_str().starts_with("email");
            assert_eq!(Email.includes(scope), is_email, "{scope}");
        }
    }

    #[test]
    fn no_scopes_means_all_and_sufficient_scopes_are_listed() {
        use Scope::*;
        assert!(Scope::allows(&[], &[EmailSend]));
        assert!(Scope::allows(&[EmailSend, ContactsReadOnly], &[EmailSend]));
        assert!(!Scope::allows(&[EmailSend], &[EmailMetadata]));
        assert_eq!(
            Scope::sufficient_for(&[EmailMetadata]),
            vec![Email, EmailModify, EmailReadOnly, EmailMetadata]
        );
    }

    #[test]
    fn a_token_narrows_its_grant_to_what_both_allow() {
        use Scope::*;
        assert_eq!(Scope::narrowed(&[], &[]), Some(vec![]));
        assert_eq!(Scope::narrowed(&[EmailSend], &[]), Some(vec![EmailSend]));
        assert_eq!(Scope::narrowed(&[], &[EmailSend]), Some(vec![EmailSend]));
        assert_eq!(
            Scope::narrowed(&[EmailModify], &[EmailReadOnly, EmailSend]),
            Some(vec![EmailReadOnly])
        );
        assert_eq!(
            Scope::narrowed(&[EmailReadOnly], &[Email]),
            Some(vec![EmailReadOnly])
        );
        assert_eq!(
            Scope::narrowed(&[Email, Contacts], &[EmailSend, ContactsReadOnly]),
            Some(vec![EmailSend, ContactsReadOnly])
        );
        assert_eq!(
            Scope::narrowed(&[EmailModify], &[EmailFoldersAndLabels, EmailMetadata]),
            Some(vec![EmailFoldersAndLabels, EmailMetadata])
        );
        assert_eq!(Scope::narrowed(&[EmailSend], &[EmailReadOnly]), None);
    }

    #[test]
    fn unknown_scopes_are_named() {
        let err = Scope::parse_list(&["email.read_only", "mail.read"]).unwrap_err();
        assert!(err.to_string().starts_with("'mail.read' is not a scope"));
    }
}
