-- Subject filters read an index of the subjects' trigrams (issue: large mailboxes). The
-- engines build it differently (SQLite's FTS5 trigram tokenizer, PostgreSQL's pg_trgm),
-- so it is made in Rust after the migrations (`subject_index.rs`).
INSERT INTO pending_backfills (name) VALUES ('subject_index');
