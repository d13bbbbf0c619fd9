//! The flags of each copy of a message, and the message's flags as its copies give them.
//!
//! The index keeps one record per message however many folders hold a copy (a message
//! sent to oneself is in Sent and in Inbox; a filed one may stay in both), but on an
//! IMAP server each copy has flags of its own (RFC 3501 §2.3.2). Taking the flags of the
//! copy read last made the message's state depend on the order folders were read: two
//! copies that differ flipped it, and announced `message.updated`, at each reading.
//! Each location now keeps its copy's flags (migration 0033), and the message's are
//! what they say together:
//!
//! - read once any copy is `\Seen` (it was read somewhere);
//! - starred, answered once any copy is `\Flagged`, `\Answered`;
//! - a draft only while every copy is a `\Draft` (a sent draft's copy in Sent is not).
//!
//! Copies whose flags are not known (NULL) say nothing.

use sqlx::{Any, Row, Transaction};

use crate::{
    StoreError,
    messages::{FlagState, ImapFlags, apply_flag_state},
    sql_filter::{Bind, SqlFilter},
    thread_summaries::TouchedThreads,
};

const SEEN: i64 = 1;
const FLAGGED: i64 = 2;
const ANSWERED: i64 = 4;
const DRAFT: i64 = 8;
const ALL: i64 = SEEN | FLAGGED | ANSWERED | DRAFT;

/// Messages looked up per statement.
const IDS_PER_LOOKUP: usize = 250;

/// A copy's flags as the bits a location keeps.
pub(crate) fn bits(flags: ImapFlags) -> i64 {
    let mut bits = 0;
    if !flags.unread {
        bits |= SEEN;
    }
    if flags.starred {
        bits |= FLAGGED;
    }
    if flags.answered {
        bits |= ANSWERED;
    }
    if flags.draft {
        bits |= DRAFT;
    }
    bits
}

/// What copies with these flags say of their message; `None` for no copy.
pub(crate) fn merged(copies: &[i64]) -> Option<ImapFlags> {
    if copies.is_empty() {
        return None;
    }
    let any = |bit: i64| copies.iter().any(|c| c & bit != 0);
    Some(ImapFlags {
        unread: !any(SEEN),
        starred: any(FLAGGED),
        answered: any(ANSWERED),
        draft: copies.iter().all(|c| c & DRAFT != 0),
    })
}

/// Records the flags the copy at `uid` of a folder has; whether they are new (a flag
/// refresh of a whole folder mostly reads what is known, and costs one statement each).
pub(crate) async fn set_copy_flags(
    tx: &mut Transaction<'_, Any>,
    folder_id: &str,
    uid: i64,
    flags: ImapFlags,
) -> Result<bool, StoreError> {
    let bits = bits(flags);
    let done = sqlx::query(
        "UPDATE message_locations SET flags = $1 \
         WHERE folder_id = $2 AND uid = $3 AND (flags IS NULL OR flags <> $1)",
    )
    .bind(bits)
    .bind(folder_id)
    .bind(uid)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A change mailroom made to every copy of a message (an API write stores the flags on
/// each): their known flags follow it.
pub(crate) async fn change_every_copy(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
    state: FlagState,
) -> Result<(), StoreError> {
    let (mut set, mut cleared) = (0, 0);
    for (wanted, bit) in [
        (state.unread.map(|unread| !unread), SEEN),
        (state.starred, FLAGGED),
        (state.answered, ANSWERED),
        (state.draft, DRAFT),
    ] {
        match wanted {
            Some(true) => set |= bit,
            Some(false) => cleared |= bit,
            None => {}
        }
    }
    if set | cleared == 0 {
        return Ok(());
    }
    sqlx::query(
        "UPDATE message_locations SET flags = (flags & $1) | $2 \
         WHERE message_id = $3 AND flags IS NOT NULL",
    )
    .bind(ALL & !(set | cleared))
    .bind(set)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives each of these messages the flags its copies say together (a message no copy's
/// flags are known of keeps its own); returns those that changed.
pub(crate) async fn settle_message_flags(
    tx: &mut Transaction<'_, Any>,
    message_ids: &[String],
    now: i64,
    touched: &mut TouchedThreads,
) -> Result<Vec<String>, StoreError> {
    let mut changed = Vec::new();
    for chunk in message_ids.chunks(IDS_PER_LOOKUP) {
        let mut filter = SqlFilter::default();
        filter.one_of("message_id", chunk.iter().map(|id| Bind::Text(id.clone())));
        let sql = format!(
            "SELECT message_id, flags FROM message_locations{} AND flags IS NOT NULL",
            filter.where_sql()
        );
        let mut copies: std::collections::HashMap<String, Vec<i64>> =
            std::collections::HashMap::new();
        for row in filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&mut **tx)
            .await?
        {
            copies
                .entry(row.try_get("message_id")?)
                .or_default()
                .push(row.try_get("flags")?);
        }
        for id in chunk {
            let Some(flags) = copies.get(id).and_then(|c| merged(c)) else {
                continue;
            };
            if apply_flag_state(tx, id, flags.into(), now, touched).await? {
                changed.push(id.clone());
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(unread: bool, starred: bool, answered: bool, draft: bool) -> ImapFlags {
        ImapFlags {
            unread,
            starred,
            answered,
            draft,
        }
    }

    #[test]
    fn copies_say_together_what_any_or_every_one_of_them_says() {
        let inbox = bits(flags(true, false, false, false));
        let sent = bits(flags(false, false, true, false));
        let together = merged(&[inbox, sent]).expect("two copies");
        assert_eq!(together, flags(false, false, true, false));
        assert_eq!(merged(&[sent, inbox]), Some(together), "in either order");

        let draft = bits(flags(false, true, false, true));
        assert_eq!(merged(&[draft]), Some(flags(false, true, false, true)));
        assert!(!merged(&[draft, sent]).expect("two copies").draft);
        assert_eq!(merged(&[]), None);
    }

    #[test]
    fn bits_keep_every_flag() {
        for n in 0..16 {
            let f = flags(n & 1 != 0, n & 2 != 0, n & 4 != 0, n & 8 != 0);
            assert_eq!(merged(&[bits(f)]), Some(f));
        }
    }
}
