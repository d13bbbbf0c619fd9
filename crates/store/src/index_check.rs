//! Checking what the writers keep (thread rows, thread folders, folder counts, the
//! participants index, thread addresses, participants and members, address folders, the
//! subject index, location dates) against a recomputation from the messages and their
//! locations. Tests run it after every change; it reads a whole grant, so it is not for
//! requests.

use std::collections::{BTreeMap, BTreeSet};

use mailroom_model::{GrantId, v3::EmailName};
use sqlx::{Row, any::AnyRow};

use crate::{
    error::StoreError,
    message_addresses::roles_by_address,
    open::{Engine, Store},
    thread_addresses::UNITED_ROLES,
    thread_member_list::{MemberList, member_of_row},
    thread_pages::ThreadMember,
    thread_participants::{ParticipantSet, message_people},
};

/// The located messages of a grant, summed per thread as `threads` holds them.
const RECOMPUTED_THREADS: &str = "SELECT m.thread_id AS id, MAX(m.date) AS latest_date, \
     MIN(m.date) AS earliest_date, MAX(m.sent_date) AS latest_sent_date, \
     COUNT(*) AS message_count, SUM(m.unread) AS unread_count, SUM(m.starred) AS starred_count, \
     SUM(m.has_attachments) AS attachment_count, SUM(m.draft) AS draft_count \
     FROM messages m WHERE m.grant_id = $1 \
     AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id) \
     GROUP BY m.thread_id ORDER BY m.thread_id";

const KEPT_THREADS: &str = "SELECT id, latest_date, earliest_date, latest_sent_date, \
     message_count, unread_count, starred_count, attachment_count, draft_count \
     FROM threads WHERE grant_id = $1 ORDER BY id";

impl Store {
    /// Every difference between what is kept for the grant and what its messages and
    /// locations say; empty when the index is consistent.
    pub async fn index_drift(&self, grant_id: &GrantId) -> Result<Vec<String>, StoreError> {
        let mut drift = Vec::new();
        let kept = self.thread_rows(KEPT_THREADS, grant_id).await?;
        let recomputed = self.thread_rows(RECOMPUTED_THREADS, grant_id).await?;
        difference(&mut drift, "threads", &kept, &recomputed);

        let kept = self
            .text_rows(
                "SELECT tf.folder_id || ' ' || tf.thread_id || ' ' || CAST(tf.latest_date AS TEXT) \
                 AS r FROM thread_folders tf JOIN threads t ON t.id = tf.thread_id \
                 WHERE t.grant_id = $1",
                grant_id,
            )
            .await?;
        let recomputed = self
            .text_rows(
                "SELECT DISTINCT l.folder_id || ' ' || m.thread_id || ' ' || \
                     CAST((SELECT MAX(o.date) FROM messages o WHERE o.grant_id = m.grant_id \
                         AND o.thread_id = m.thread_id AND EXISTS \
                         (SELECT 1 FROM message_locations ol WHERE ol.message_id = o.id)) AS TEXT) AS r \
                 FROM message_locations l JOIN messages m ON m.id = l.message_id \
                 WHERE m.grant_id = $1",
                grant_id,
            )
            .await?;
        difference(&mut drift, "thread folders", &kept, &recomputed);

        let kept = self
            .text_rows(
                "SELECT id || ' ' || CAST(total_count AS TEXT) || ' ' || CAST(unread_count AS TEXT) \
                 AS r FROM folders WHERE grant_id = $1",
                grant_id,
            )
            .await?;
        let recomputed = self
            .text_rows(
                "SELECT f.id || ' ' || \
                     CAST((SELECT COUNT(*) FROM message_locations l WHERE l.folder_id = f.id) AS TEXT) \
                     || ' ' || CAST((SELECT COUNT(*) FROM message_locations l \
                         JOIN messages m ON m.id = l.message_id \
                         WHERE l.folder_id = f.id AND m.unread = 1) AS TEXT) AS r \
                 FROM folders f WHERE f.grant_id = $1",
                grant_id,
            )
            .await?;
        difference(&mut drift, "folder counts", &kept, &recomputed);

        let misdated = self
            .text_rows(
                "SELECT l.folder_id || ' ' || CAST(l.uid AS TEXT) AS r FROM message_locations l \
                 JOIN messages m ON m.id = l.message_id WHERE m.grant_id = $1 AND l.date <> m.date",
                grant_id,
            )
            .await?;
        difference(&mut drift, "location dates", &misdated, &BTreeSet::new());

        let kept = self
            .text_rows(
                "SELECT a.message_id || ' ' || a.email || ' ' || CAST(a.roles AS TEXT) || ' ' || \
                     CAST(a.date AS TEXT) AS r FROM message_addresses a WHERE a.grant_id = $1",
                grant_id,
            )
            .await?;
        let rows = sqlx::query(
            "SELECT id, date, from_json, to_json, cc_json, bcc_json FROM messages WHERE grant_id = $1",
        )
        .bind(grant_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut recomputed = BTreeSet::new();
        for row in &rows {
            let names = |column: &str| -> Result<Vec<EmailName>, StoreError> {
                let text: String = row.try_get(column)?;
                serde_json::from_str(&text).map_err(StoreError::corrupt)
            };
            let id: String = row.try_get("id")?;
            let date: i64 = row.try_get("date")?;
            let roles = roles_by_address(
                &names("from_json")?,
                &names("to_json")?,
                &names("cc_json")?,
                &names("bcc_json")?,
            );
            for (email, bits) in roles {
                recomputed.insert(format!("{id} {email} {bits} {date}"));
            }
        }
        difference(&mut drift, "participants", &kept, &recomputed);

        let kept = self
            .text_rows(
                "SELECT ta.thread_id || ' ' || ta.email || ' ' || CAST(ta.roles AS TEXT) || ' ' || \
                     CAST(ta.latest_date AS TEXT) AS r FROM thread_addresses ta \
                 WHERE ta.grant_id = $1",
                grant_id,
            )
            .await?;
        let recomputed = self
            .text_rows(
                &format!(
                    "SELECT g.thread_id || ' ' || g.email || ' ' || CAST(g.roles AS TEXT) || ' ' || \
                         CAST((SELECT MAX(o.date) FROM messages o WHERE o.grant_id = $1 \
                             AND o.thread_id = g.thread_id AND EXISTS \
                             (SELECT 1 FROM message_locations ol WHERE ol.message_id = o.id)) \
                         AS TEXT) AS r \
                     FROM (SELECT m.thread_id AS thread_id, a.email AS email, \
                             {UNITED_ROLES} AS roles \
                         FROM messages m JOIN message_addresses a ON a.message_id = m.id \
                         WHERE m.grant_id = $1 \
                         AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id) \
                         GROUP BY m.thread_id, a.email) g"
                ),
                grant_id,
            )
            .await?;
        difference(&mut drift, "thread addresses", &kept, &recomputed);

        // Each thread row's participants and members against its located messages, read
        // once for both.
        let (mut kept_people, mut kept_members) = (BTreeSet::new(), BTreeSet::new());
        for row in sqlx::query(
            "SELECT id, participants_json, members_json, first_subject, latest_message_id, \
                 subjects_lower FROM threads WHERE grant_id = $1",
        )
        .bind(grant_id.as_str())
        .fetch_all(&self.pool)
        .await?
        {
            let id: String = row.try_get("id")?;
            let people: Option<String> = row.try_get("participants_json")?;
            kept_people.insert(format!("{id} {}", people.unwrap_or_else(|| "NULL".into())));
            let json: Option<String> = row.try_get("members_json")?;
            let subject: Option<String> = row.try_get("first_subject")?;
            let latest: Option<String> = row.try_get("latest_message_id")?;
            let subjects: Option<String> = row.try_get("subjects_lower")?;
            kept_members.insert(format!("{id} {json:?} {subject:?} {latest:?} {subjects:?}"));
        }
        type Members = Vec<(ThreadMember, Option<String>)>;
        let mut by_thread: BTreeMap<String, (ParticipantSet, Members)> = BTreeMap::new();
        for row in sqlx::query(
            "SELECT m.thread_id AS thread_id, m.id, m.date, m.draft, m.subject, \
                 m.from_json, m.to_json, m.cc_json, m.bcc_json \
             FROM messages m WHERE m.grant_id = $1 \
             AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)",
        )
        .bind(grant_id.as_str())
        .fetch_all(&self.pool)
        .await?
        {
            let (people, members) = by_thread.entry(row.try_get("thread_id")?).or_default();
            message_people(&row, people)?;
            members.push(member_of_row(&row)?);
        }
        let mut recomputed_people = BTreeSet::new();
        let mut recomputed_members = BTreeSet::new();
        for (id, (people, members)) in by_thread {
            recomputed_people.insert(format!("{id} {}", people.to_json()));
            let (json, subject, latest, subjects) =
                MemberList::to_columns(MemberList::of(members).as_ref());
            recomputed_members.insert(format!("{id} {json:?} {subject:?} {latest:?} {subjects:?}"));
        }
        difference(
            &mut drift,
            "thread participants",
            &kept_people,
            &recomputed_people,
        );
        difference(
            &mut drift,
            "thread members",
            &kept_members,
            &recomputed_members,
        );

        // Address folders may name more than the messages hold, never less.
        let kept = self
            .address_folder_roles(
                "SELECT af.folder_id AS folder_id, af.email AS email, af.roles AS roles \
                 FROM address_folders af JOIN folders f ON f.id = af.folder_id \
                 WHERE f.grant_id = $1",
                grant_id,
            )
            .await?;
        let held = self
            .address_folder_roles(
                "SELECT l.folder_id AS folder_id, a.email AS email, a.roles AS roles \
                 FROM message_locations l JOIN message_addresses a ON a.message_id = l.message_id \
                 WHERE a.grant_id = $1",
                grant_id,
            )
            .await?;
        for missing in held.difference(&kept) {
            drift.push(format!("address folders: held but not kept: {missing}"));
        }

        // The trigram index of subjects against its content table (`subject_index.rs`);
        // PostgreSQL's is an index of the table itself.
        if self.engine == Engine::Sqlite
            && let Err(error) = sqlx::query(
                "INSERT INTO message_subjects (message_subjects, rank) VALUES ('integrity-check', 1)",
            )
            .execute(&self.pool)
            .await
        {
            drift.push(format!("subject index: {error}"));
        }
        Ok(drift)
    }

    /// The rows of `sql` (one `$1`: the grant), each as text by `row_text`.
    async fn rows_as_text(
        &self,
        sql: &str,
        grant_id: &GrantId,
        row_text: fn(&AnyRow) -> Result<String, StoreError>,
    ) -> Result<BTreeSet<String>, StoreError> {
        let rows = sqlx::query(sql)
            .bind(grant_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_text).collect()
    }

    /// `folder email role` for each role bit of each row of `sql` (`folder_id`, `email`,
    /// `roles`; one `$1`: the grant).
    async fn address_folder_roles(
        &self,
        sql: &str,
        grant_id: &GrantId,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut found = BTreeSet::new();
        for row in sqlx::query(sql)
            .bind(grant_id.as_str())
            .fetch_all(&self.pool)
            .await?
        {
            let folder: String = row.try_get("folder_id")?;
            let email: String = row.try_get("email")?;
            let roles: i64 = row.try_get("roles")?;
            for bit in [1, 2, 4, 8].into_iter().filter(|bit| roles & bit != 0) {
                found.insert(format!("{folder} {email} {bit}"));
            }
        }
        Ok(found)
    }

    async fn thread_rows(
        &self,
        sql: &str,
        grant_id: &GrantId,
    ) -> Result<BTreeSet<String>, StoreError> {
        self.rows_as_text(sql, grant_id, thread_row).await
    }

    /// Rows of a query that selects one text column `r`.
    async fn text_rows(
        &self,
        sql: &str,
        grant_id: &GrantId,
    ) -> Result<BTreeSet<String>, StoreError> {
        self.rows_as_text(sql, grant_id, |r| Ok(r.try_get::<String, _>("r")?))
            .await
    }
}

fn thread_row(row: &AnyRow) -> Result<String, StoreError> {
    let mut fields = vec![row.try_get::<String, _>("id")?];
    for column in [
        "latest_date",
        "earliest_date",
        "message_count",
        "unread_count",
        "starred_count",
        "attachment_count",
        "draft_count",
    ] {
        fields.push(row.try_get::<i64, _>(column)?.to_string());
    }
    fields.push(format!(
        "{:?}",
        row.try_get::<Option<i64>, _>("latest_sent_date")?
    ));
    Ok(fields.join(" "))
}

fn difference(
    drift: &mut Vec<String>,
    what: &str,
    kept: &BTreeSet<String>,
    recomputed: &BTreeSet<String>,
) {
    for extra in kept.difference(recomputed) {
        drift.push(format!("{what}: kept but not recomputed: {extra}"));
    }
    for missing in recomputed.difference(kept) {
        drift.push(format!("{what}: recomputed but not kept: {missing}"));
    }
}
