//! Contacts as the v3 API returns them. mailroom's contacts are derived from the people a
//! mailbox exchanges mail with (`source: "inbox"`): an address and perhaps a name; every
//! other documented field is serialized empty so that strict clients parse the object.

use serde::Serialize;
use serde_json::{Map, Value};

/// Where a contact comes from; Python's SDK refuses any other value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactSource {
    AddressBook,
    Inbox,
    Domain,
}

impl ContactSource {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "address_book" => Some(ContactSource::AddressBook),
            "inbox" => Some(ContactSource::Inbox),
            "domain" => Some(ContactSource::Domain),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ContactEmail {
    pub email: String,
    /// `work`, `home`, `other` or none.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhoneNumber {
    pub number: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImAddress {
    pub im_address: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhysicalAddress {
    pub format: Option<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebPage {
    pub url: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactGroupRef {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: String,
    pub grant_id: String,
    pub object: &'static str,
    pub source: ContactSource,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub surname: Option<String>,
    pub suffix: Option<String>,
    pub nickname: Option<String>,
    pub birthday: Option<String>,
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub manager_name: Option<String>,
    pub office_location: Option<String>,
    pub notes: Option<String>,
    pub picture_url: Option<String>,
    pub picture: Option<String>,
    pub emails: Vec<ContactEmail>,
    pub im_addresses: Vec<ImAddress>,
    pub phone_numbers: Vec<PhoneNumber>,
    pub physical_addresses: Vec<PhysicalAddress>,
    pub web_pages: Vec<WebPage>,
    pub groups: Vec<ContactGroupRef>,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContactGroupType {
    User,
    System,
    Other,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactGroup {
    pub id: String,
    pub grant_id: String,
    pub object: &'static str,
    pub group_type: ContactGroupType,
    pub name: Option<String>,
    pub path: Option<String>,
}

/// A display name in its parts, as far as its spelling tells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameParts {
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub surname: Option<String>,
    pub suffix: Option<String>,
}

/// Generational and academic suffixes, compared without case or a final dot.
const SUFFIXES: &[&str] = &["jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"];
/// Words that open a surname ("Ludwig van Beethoven", "Maria de la Cruz").
const SURNAME_PARTICLES: &[&str] = &[
    "van", "von", "de", "del", "della", "der", "den", "di", "da", "du", "la", "le", "st.", "bin",
    "ibn", "al", "dos", "das", "ten", "ter",
];

fn is_suffix(word: &str) -> bool {
    let bare = word.trim_end_matches('.').to_lowercase();
    SUFFIXES.contains(&bare.as_str())
}

impl NameParts {
    /// "Ada King Lovelace" → Ada / King / Lovelace; "Lovelace, Ada" → Ada / Lovelace;
    /// "Martin Luther King Jr." keeps "Jr." as the suffix; one word is a given name.
    pub fn split(display_name: &str) -> Self {
        let mut parts = NameParts::default();
        let mut text = display_name.trim().to_owned();
        // "John Smith, Jr." / "Smith, John"
        let mut surname_first = None;
        if let Some((before, after)) = text.split_once(',') {
            let (before, after) = (before.trim().to_owned(), after.trim().to_owned());
            if !after.is_empty() && is_suffix(&after) {
                parts.suffix = Some(after);
                text = before;
            } else if !before.is_empty() && !after.is_empty() && !after.contains(',') {
                surname_first = Some(before);
                text = after;
            }
        }
        let mut words: Vec<&str> = text.split_whitespace().collect();
        if parts.suffix.is_none() && words.len() > 1 && words.last().is_some_and(|w| is_suffix(w)) {
            parts.suffix = words.pop().map(str::to_owned);
        }
        let join = |words: &[&str]| (!words.is_empty()).then(|| words.join(" "));
        if let Some(surname) = surname_first {
            parts.surname = Some(surname);
            parts.given_name = words.first().map(|w| (*w).to_owned());
            parts.middle_name = join(words.get(1..).unwrap_or_default());
            return parts;
        }
        match words.len() {
            0 => {}
            1 => parts.given_name = Some(words[0].to_owned()),
            n => {
                let mut surname_start = n - 1;
                while surname_start > 1
                    && SURNAME_PARTICLES.contains(&words[surname_start - 1].to_lowercase().as_str())
                {
                    surname_start -= 1;
                }
                parts.given_name = Some(words[0].to_owned());
                parts.middle_name = join(&words[1..surname_start]);
                parts.surname = join(&words[surname_start..]);
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_split_into_their_parts() {
        let parts = |name: &str| {
            let p = NameParts::split(name);
            (p.given_name, p.middle_name, p.surname, p.suffix)
        };
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(parts("Ada"), (s("Ada"), None, None, None));
        assert_eq!(parts("Ada Lovelace"), (s("Ada"), None, s("Lovelace"), None));
        assert_eq!(
            parts("Augusta Ada King"),
            (s("Augusta"), s("Ada"), s("King"), None)
        );
        assert_eq!(
            parts("Lovelace, Ada"),
            (s("Ada"), None, s("Lovelace"), None)
        );
        assert_eq!(
            parts("Smith, John Paul"),
            (s("John"), s("Paul"), s("Smith"), None)
        );
        assert_eq!(
            parts("Martin Luther King Jr."),
            (s("Martin"), s("Luther"), s("King"), s("Jr."))
        );
        assert_eq!(
            parts("John Smith, Jr."),
            (s("John"), None, s("Smith"), s("Jr."))
        );
        assert_eq!(
            parts("Ludwig van Beethoven"),
            (s("Ludwig"), None, s("van Beethoven"), None)
        );
        assert_eq!(
            parts("Maria de la Cruz"),
            (s("Maria"), None, s("de la Cruz"), None)
        );
        assert_eq!(parts("  "), (None, None, None, None));
        assert_eq!(parts("山田太郎"), (s("山田太郎"), None, None, None));
    }

    #[test]
    fn sources_use_the_sdk_enum_strings() {
        for (source, text) in [
            (ContactSource::AddressBook, "address_book"),
            (ContactSource::Inbox, "inbox"),
            (ContactSource::Domain, "domain"),
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), text);
            assert_eq!(ContactSource::parse(text), Some(source));
        }
        assert_eq!(ContactSource::parse("INBOX"), Some(ContactSource::Inbox));
        assert_eq!(ContactSource::parse("phone"), None);
        let email = ContactEmail {
            email: "a@x".into(),
            kind: None,
        };
        assert_eq!(
            serde_json::to_value(email).unwrap(),
            serde_json::json!({"email": "a@x", "type": null})
        );
    }
}
