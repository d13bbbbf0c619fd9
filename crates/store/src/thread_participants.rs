//! A thread's participants as its object lists them, kept on its row
//! (`threads.participants_json`, migration 0014) so that a page of threads does not read
//! the addresses of every message of every thread on it.
//!
//! The list is the same whatever order its messages were added in: each address once,
//! sorted by its lower-case form, written as the least of the spellings it was given and
//! named by the least of the names it had (none when it never had one). Thread growth
//! adds new messages' addresses to it; a recomputation builds it from all of them.

use std::collections::BTreeMap;

use mailroom_model::v3::EmailName;

use crate::error::StoreError;

/// Participants being gathered, by lower-case address.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ParticipantSet(BTreeMap<String, EmailName>);

impl ParticipantSet {
    /// The set a stored row holds (`None`: not computed yet, taken as empty).
    pub(crate) fn from_json(json: Option<&str>) -> Result<Self, StoreError> {
        let mut set = Self::default();
        if let Some(json) = json {
            let people: Vec<EmailName> = serde_json::from_str(json).map_err(StoreError::corrupt)?;
            set.add(&people);
        }
        Ok(set)
    }

    pub(crate) fn add<'a>(&mut self, people: impl IntoIterator<Item = &'a EmailName>) {
        for person in people {
            let key = person.email.trim().to_lowercase();
            if key.is_empty() {
                continue;
            }
            let kept = self.0.entry(key).or_insert_with(|| EmailName {
                name: None,
                email: person.email.clone(),
            });
            if person.email < kept.email {
                kept.email.clone_from(&person.email);
            }
            let name = person.name.as_deref().filter(|n| !n.is_empty());
            if let Some(name) = name
                && kept.name.as_deref().is_none_or(|old| name < old)
            {
                kept.name = Some(name.to_owned());
            }
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.add(other.0.values());
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&self.people()).unwrap_or_else(|_| "[]".to_owned())
    }

    pub(crate) fn people(&self) -> Vec<EmailName> {
        self.0.values().cloned().collect()
    }
}

/// The participants of a message's four address lists stored as JSON.
pub(crate) fn message_people(
    row: &sqlx::any::AnyRow,
    set: &mut ParticipantSet,
) -> Result<(), StoreError> {
    use sqlx::Row;
    for column in ["from_json", "to_json", "cc_json", "bcc_json"] {
        let text: String = row.try_get(column)?;
        let people: Vec<EmailName> = serde_json::from_str(&text).map_err(StoreError::corrupt)?;
        set.add(&people);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: Option<&str>, email: &str) -> EmailName {
        EmailName {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    #[test]
    fn any_order_of_adding_gives_the_same_list() {
        let people = [
            person(None, "Ann@Example.test"),
            person(Some("Bob"), "bob@example.test"),
            person(Some("Ann B"), "ann@example.test"),
            person(Some("Ann A"), "ANN@example.test"),
            person(Some(""), "carl@example.test"),
            person(None, "  "),
        ];
        let mut forwards = ParticipantSet::default();
        forwards.add(&people);
        let mut backwards = ParticipantSet::default();
        backwards.add(people.iter().rev());
        assert_eq!(forwards, backwards);
        assert_eq!(
            forwards.people(),
            vec![
                person(Some("Ann A"), "ANN@example.test"),
                person(Some("Bob"), "bob@example.test"),
                person(None, "carl@example.test"),
            ]
        );
        let stored = ParticipantSet::from_json(Some(&forwards.to_json())).unwrap();
        assert_eq!(stored, forwards);
    }
}
