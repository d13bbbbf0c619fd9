//! A thread's located messages kept on its row (`threads.members_json`,
//! `threads.first_subject` and `threads.latest_message_id`, migration 0016): the id, date
//! and draft flag of each, oldest first, the subject of the earliest and the id of the
//! latest. A page of threads then reads no message of a thread but its latest, joined to
//! the thread's row, instead of every message's entry in the thread index.
//!
//! A thread of more than [`KEPT_MEMBERS`] messages keeps no list (the columns NULL):
//! each growth would rewrite all of it. Its page reads its members from the thread index,
//! as every page did before the list was kept. Thread growth merges new messages into the
//! list; a recomputation builds it from all of them, so the list is always the one a
//! recomputation would give.

use std::collections::BTreeSet;

use sqlx::Row;

use crate::{error::StoreError, thread_pages::ThreadMember};

/// The most messages a thread's row lists: about 25 KB of JSON.
pub const KEPT_MEMBERS: usize = 500;

/// A thread's located messages in (date, id) order, the earliest one's subject, and the
/// subjects of them all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemberList {
    pub members: Vec<ThreadMember>,
    pub first_subject: Option<String>,
    /// Each lower-case subject once (as `messages.subject_lower`), `None` when they
    /// would take more than `KEPT_SUBJECT_BYTES`: what a thread list filtered by
    /// subject alone asks of the row instead of its messages (`threads.subjects_lower`,
    /// migration 0018).
    pub subjects: Option<BTreeSet<String>>,
}

/// The most bytes of subjects a thread's row keeps.
pub const KEPT_SUBJECT_BYTES: usize = 2048;

/// What separates the subjects kept on a row: a subject filter holding it is not
/// answered from them (a match could span two subjects).
pub const SUBJECT_SEPARATOR: char = '\u{1}';

/// One member as stored: `[date, "id", draft]`.
type StoredMember = (i64, String, bool);

impl MemberList {
    /// The list of a stored row; `None` when the row keeps none.
    pub(crate) fn from_columns(
        json: Option<&str>,
        first_subject: Option<String>,
        subjects: Option<&str>,
    ) -> Result<Option<Self>, StoreError> {
        let Some(json) = json else {
            return Ok(None);
        };
        let stored: Vec<StoredMember> = serde_json::from_str(json).map_err(StoreError::corrupt)?;
        Ok(Some(Self {
            members: stored
                .into_iter()
                .map(|(date, id, draft)| ThreadMember { id, date, draft })
                .collect(),
            first_subject,
            subjects: subjects.map(|joined| {
                joined
                    .split(SUBJECT_SEPARATOR)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
        }))
    }

    /// The list of a thread's messages (each with its subject), in any order; `None` for
    /// a thread too large to keep one.
    pub(crate) fn of(mut messages: Vec<(ThreadMember, Option<String>)>) -> Option<Self> {
        if messages.len() > KEPT_MEMBERS {
            return None;
        }
        messages.sort_by(|a, b| (a.0.date, &a.0.id).cmp(&(b.0.date, &b.0.id)));
        let first_subject = messages.first().and_then(|(_, subject)| subject.clone());
        let subjects = kept_subjects(
            Some(BTreeSet::new()),
            messages
                .iter()
                .filter_map(|(_, subject)| subject.as_deref()),
        );
        Some(Self {
            members: messages.into_iter().map(|(member, _)| member).collect(),
            first_subject,
            subjects,
        })
    }

    /// This list with messages new to the index added (each with its subject); `None`
    /// when the thread grows too large to keep one.
    pub(crate) fn grown(self, added: Vec<(ThreadMember, Option<String>)>) -> Option<Self> {
        if self.members.len() + added.len() > KEPT_MEMBERS {
            return None;
        }
        let first = self.members.first().map(|m| (m.date, m.id.clone()));
        let mut messages: Vec<(ThreadMember, Option<String>)> = self
            .members
            .into_iter()
            .map(|member| (member, None))
            .collect();
        let subjects = kept_subjects(
            self.subjects,
            added.iter().filter_map(|(_, subject)| subject.as_deref()),
        );
        messages.extend(added);
        let mut list = Self::of(messages)?;
        // The earliest is still the stored one unless a new message came before it.
        if list.members.first().map(|m| (m.date, m.id.clone())) == first {
            list.first_subject = self.first_subject;
        }
        list.subjects = subjects;
        Some(list)
    }

    /// `members_json`, `first_subject`, `latest_message_id` and `subjects_lower` of a row
    /// keeping this list (or none).
    pub(crate) fn to_columns(list: Option<&Self>) -> ListColumns {
        let Some(list) = list else {
            return (None, None, None, None);
        };
        let stored: Vec<(i64, &str, bool)> = list
            .members
            .iter()
            .map(|m| (m.date, m.id.as_str(), m.draft))
            .collect();
        (
            Some(serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())),
            list.first_subject.clone(),
            list.members.last().map(|m| m.id.clone()),
            list.subjects.as_ref().map(|subjects| {
                subjects
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(&SUBJECT_SEPARATOR.to_string())
            }),
        )
    }
}

/// `kept` with these subjects added (lower-cased), or `None` once they would take more
/// than [`KEPT_SUBJECT_BYTES`]; a set that was not kept stays so.
fn kept_subjects<'a>(
    kept: Option<BTreeSet<String>>,
    added: impl Iterator<Item = &'a str>,
) -> Option<BTreeSet<String>> {
    let mut kept = kept?;
    for subject in added {
        kept.insert(subject.to_lowercase());
    }
    kept.remove("");
    let bytes: usize = kept.iter().map(|s| s.len() + 1).sum();
    (bytes <= KEPT_SUBJECT_BYTES).then_some(kept)
}

/// `members_json`, `first_subject`, `latest_message_id` and `subjects_lower`.
pub(crate) type ListColumns = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A message of a thread as a recomputation reads it (`m.id`, `m.date`, `m.draft`,
/// `m.subject`).
pub(crate) fn member_of_row(
    row: &sqlx::any::AnyRow,
) -> Result<(ThreadMember, Option<String>), StoreError> {
    Ok((
        ThreadMember {
            id: row.try_get("id")?,
            date: row.try_get("date")?,
            draft: row.try_get::<i64, _>("draft")? != 0,
        },
        row.try_get("subject")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(date: i64, id: &str, draft: bool) -> (ThreadMember, Option<String>) {
        (
            ThreadMember {
                id: id.to_owned(),
                date,
                draft,
            },
            Some(format!("subject of {id}")),
        )
    }

    #[test]
    fn growth_gives_what_a_recomputation_gives() {
        let all = vec![
            member(5, "b", false),
            member(3, "z", true),
            member(5, "a", false),
            member(9, "c", false),
        ];
        let whole = MemberList::of(all.clone());
        let grown =
            MemberList::of(all[..2].to_vec()).and_then(|list| list.grown(all[2..].to_vec()));
        assert_eq!(grown, whole);
        let early = MemberList::of(all[1..].to_vec()).and_then(|l| l.grown(all[..1].to_vec()));
        assert_eq!(early, whole);
        let whole = whole.unwrap_or_default();
        assert_eq!(whole.first_subject.as_deref(), Some("subject of z"));
        let ids: Vec<&str> = whole.members.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["z", "a", "b", "c"]);
    }

    #[test]
    fn a_new_earliest_message_brings_its_subject() {
        let list = MemberList::of(vec![member(5, "b", false)]);
        let grown = list.and_then(|l| l.grown(vec![member(1, "x", false)]));
        assert_eq!(
            grown.and_then(|l| l.first_subject).as_deref(),
            Some("subject of x")
        );
    }

    #[test]
    fn a_large_thread_keeps_no_list() {
        let many: Vec<_> = (0..KEPT_MEMBERS as i64)
            .map(|n| member(n, &format!("m{n}"), false))
            .collect();
        let full = MemberList::of(many);
        assert!(full.is_some());
        assert_eq!(
            full.and_then(|l| l.grown(vec![member(0, "one more", false)])),
            None
        );
    }

    #[test]
    fn subjects_grow_as_a_recomputation_gives_them_until_too_many() {
        let mut all = vec![member(5, "b", false), member(3, "z", true)];
        all[1].1 = Some("Subject of B".into());
        let grown = MemberList::of(all[..1].to_vec()).and_then(|l| l.grown(all[1..].to_vec()));
        let whole = MemberList::of(all.clone());
        assert_eq!(grown, whole);
        let subjects = whole.and_then(|l| l.subjects).unwrap_or_default();
        assert_eq!(subjects.into_iter().collect::<Vec<_>>(), ["subject of b"]);

        // Past the bound the row keeps none, and growth does not bring them back.
        let long: Vec<_> = (0..KEPT_SUBJECT_BYTES / 40 + 1)
            .map(|n| {
                let (m, _) = member(n as i64, &format!("m{n}"), false);
                (m, Some(format!("{n:040}")))
            })
            .collect();
        let full = MemberList::of(long);
        assert!(full.as_ref().is_some_and(|l| l.subjects.is_none()));
        let grown = full.and_then(|l| l.grown(vec![member(0, "x", false)]));
        assert!(grown.is_some_and(|l| l.subjects.is_none()));
    }

    #[test]
    fn columns_read_back() {
        let list = MemberList::of(vec![member(5, "b", true), member(2, "a", false)]);
        let (json, subject, latest, subjects) = MemberList::to_columns(list.as_ref());
        assert_eq!(json.as_deref(), Some(r#"[[2,"a",false],[5,"b",true]]"#));
        assert_eq!(latest.as_deref(), Some("b"));
        assert_eq!(subjects.as_deref(), Some("subject of a\u{1}subject of b"));
        let read = MemberList::from_columns(json.as_deref(), subject, subjects.as_deref())
            .unwrap_or_default();
        assert_eq!(read, list);
        assert_eq!(
            MemberList::from_columns(None, None, None).unwrap_or_default(),
            None
        );
    }
}
