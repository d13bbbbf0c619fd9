//! Opaque public ids.
//!
//! Every id mailroom hands out is URL-safe (`[A-Za-z0-9_-]`) because the Python SDK puts
//! some ids into paths without escaping them. Ids are parsed once, at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest id accepted from a caller; longer input cannot be one of ours.
const MAX_ID_LEN: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not a valid id")]
pub struct InvalidId(pub String);

fn is_url_safe_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id (a UUIDv4, as Nylas uses for these objects).
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// A fresh id that sorts after those made before it (a UUIDv7), for objects
            /// listed in the order they were created.
            pub fn generate_time_ordered() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Accepts a caller-supplied id if it has the shape of one.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                if is_url_safe_id(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId(value.chars().take(MAX_ID_LEN).collect()))
                }
            }

            /// Wraps an id read back from the store, where only valid ids are written.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An application (also its OAuth `client_id`).
    ApplicationId
);
id_type!(
    /// A grant: one connected mailbox of one application.
    GrantId
);
id_type!(
    /// An API key, named so it can be revoked without showing the key.
    ApiKeyId
);
id_type!(
    /// A registered redirect URI of an application.
    CallbackUriId
);
id_type!(
    /// A webhook destination of an application.
    WebhookId
);
id_type!(
    /// A message template of an application or of one of its grants.
    TemplateId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_url_safe_and_parse_back() {
        let id = GrantId::generate();
        assert_eq!(GrantId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn ids_with_path_characters_are_refused() {
        for bad in ["", "a/b", "a b", "a%2Fb", "ä", &"x".repeat(129)] {
            assert!(GrantId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
