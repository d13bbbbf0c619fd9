-- The local index of each grant's mailbox: folders, messages, where each message lives
-- (folder + UID), threads by reference, and sync progress.

CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    imap_name TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id TEXT,
    delimiter TEXT,
    attributes TEXT NOT NULL,
    uid_validity BIGINT NOT NULL DEFAULT 0,
    uid_next BIGINT NOT NULL DEFAULT 0,
    highest_modseq BIGINT NOT NULL DEFAULT 0,
    -- Initial sync runs newest first: UIDs at or above this are indexed (0 = not begun).
    lowest_synced_uid BIGINT NOT NULL DEFAULT 0,
    initial_sync_done INTEGER NOT NULL DEFAULT 0,
    server_total BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (grant_id, imap_name)
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    -- Matches a message across moves and UIDVALIDITY resets: Message-ID, or a digest.
    identity_key TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    message_id_header TEXT,
    subject TEXT,
    subject_lower TEXT,
    from_json TEXT NOT NULL,
    to_json TEXT NOT NULL,
    cc_json TEXT NOT NULL,
    bcc_json TEXT NOT NULL,
    reply_to_json TEXT NOT NULL,
    -- " a@x b@y " lists (lower case) for the address filters.
    from_emails TEXT NOT NULL,
    to_emails TEXT NOT NULL,
    cc_emails TEXT NOT NULL,
    bcc_emails TEXT NOT NULL,
    date BIGINT NOT NULL,
    sent_date BIGINT,
    size BIGINT NOT NULL,
    unread INTEGER NOT NULL,
    starred INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    draft INTEGER NOT NULL,
    has_attachments INTEGER NOT NULL,
    headers_json TEXT NOT NULL,
    in_reply_to TEXT,
    snippet TEXT NOT NULL DEFAULT '',
    body_html TEXT,
    attachments_json TEXT NOT NULL DEFAULT '[]',
    body_fetched INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (grant_id, identity_key)
);

CREATE INDEX messages_by_grant_date ON messages (grant_id, date DESC, id DESC);
CREATE INDEX messages_by_thread ON messages (grant_id, thread_id);

CREATE TABLE message_locations (
    folder_id TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid BIGINT NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    grant_id TEXT NOT NULL,
    PRIMARY KEY (folder_id, uid)
);

CREATE INDEX message_locations_by_message ON message_locations (message_id);

CREATE TABLE thread_refs (
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    ref_key TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    PRIMARY KEY (grant_id, ref_key)
);

CREATE INDEX thread_refs_by_thread ON thread_refs (grant_id, thread_id);

CREATE TABLE sync_status (
    grant_id TEXT PRIMARY KEY REFERENCES grants(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    folders_total BIGINT NOT NULL DEFAULT 0,
    folders_done BIGINT NOT NULL DEFAULT 0,
    messages_total BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
