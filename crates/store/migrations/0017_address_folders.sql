-- Which roles each address has had in each folder (`address_folders.rs`; roles as in
-- `message_addresses`: 1 from, 2 to, 4 cc, 8 bcc). Grown with every location added and
-- never shrunk, so it may name a pair no message holds any more, never miss one that a
-- message does: a list filtered by a folder and an address whose pair is absent matches
-- nothing, and is answered without walking either.
CREATE TABLE address_folders (
    folder_id TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    roles INTEGER NOT NULL,
    PRIMARY KEY (folder_id, email)
);

-- Filled in Rust (`backfills.rs`) from the locations stored before.
INSERT INTO pending_backfills (name) VALUES ('address_folders');
