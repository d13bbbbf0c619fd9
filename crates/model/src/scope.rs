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
    fn unknown_scopes_are_named() {
        let err = Scope::parse_list(&["email.read_only", "mail.read"]).unwrap_err();
        assert!(err.to_string().starts_with("'mail.read' is not a scope"));
    }
}
