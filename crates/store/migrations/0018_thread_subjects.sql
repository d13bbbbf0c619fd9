-- Each lower-case subject of a thread's located messages once, joined by U+0001, kept on
-- its row with its members (`thread_member_list.rs`): a thread list filtered by subject
-- alone checks the row instead of reading every message of each thread it passes. NULL
-- where the row keeps no members, or the subjects would take more than 2 KB; such a
-- thread's messages are read as before.
ALTER TABLE threads ADD COLUMN subjects_lower TEXT;

-- Filled in Rust (`backfills.rs`) for the threads stored before.
INSERT INTO pending_backfills (name) VALUES ('thread_subjects');
