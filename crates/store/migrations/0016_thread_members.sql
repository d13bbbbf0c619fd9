-- What a page of threads shows of a thread's messages, kept on its row
-- (`thread_member_list.rs`): the id, date and draft flag of each located message, oldest
-- first, as JSON, the subject of the earliest and the id of the latest, which a page
-- reads joined to the row. NULL in all three for a thread too large to keep them; its
-- page reads its messages from the thread index.
ALTER TABLE threads ADD COLUMN members_json TEXT;
ALTER TABLE threads ADD COLUMN first_subject TEXT;
ALTER TABLE threads ADD COLUMN latest_message_id TEXT;

-- A page reads each thread's folders from this index alone.
DROP INDEX thread_folders_by_thread;
CREATE INDEX thread_folders_by_thread ON thread_folders (thread_id, folder_id);

-- Filled in Rust (`backfills.rs`) for the threads stored before.
INSERT INTO pending_backfills (name) VALUES ('thread_members');
