//! Sign-in attempts per email address, across sign-in pages, flows and applications.
//! An attempt is counted *before* its password is tried, in one statement, so that any
//! number of parallel submissions for one address let at most the limit through.

use mailroom_model::{EmailAddress, time::unix_now};
use sqlx::Row;

use crate::{error::StoreError, open::Store};

impl Store {
    /// Counts one attempt for `email` and returns the count within the current window
    /// (a window older than `window_secs` starts again at one).
    pub async fn count_sign_in_attempt(
        &self,
        email: &EmailAddress,
        window_secs: i64,
    ) -> Result<i64, StoreError> {
        let now = unix_now();
        let row = sqlx::query(
            "INSERT INTO sign_in_attempts (email, attempts, window_started_at) VALUES ($1, 1, $2) \
             ON CONFLICT (email) DO UPDATE SET \
                 attempts = CASE WHEN sign_in_attempts.window_started_at <= $3 THEN 1 \
                                 ELSE sign_in_attempts.attempts + 1 END, \
                 window_started_at = CASE WHEN sign_in_attempts.window_started_at <= $3 THEN $2 \
                                          ELSE sign_in_attempts.window_started_at END \
             RETURNING attempts",
        )
        .bind(email.as_str())
        .bind(now)
        .bind(now - window_secs)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("attempts")?)
    }

    /// Forgets the attempts for `email`, after a sign-in that succeeded.
    pub async fn clear_sign_in_attempts(&self, email: &EmailAddress) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE email = $1")
            .bind(email.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes counts whose window has long ended.
    pub(crate) async fn purge_sign_in_attempts(&self, older_than: i64) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM sign_in_attempts WHERE window_started_at < $1")
            .bind(older_than)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}
