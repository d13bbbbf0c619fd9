-- What a mailbox's mail says beyond itself: the people it exchanges mail with (contacts)
-- and the events of the invitations it receives.

CREATE TABLE contacts (
    -- Derived from grant and address: the same contact keeps its id if re-derived.
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    -- The address in lower case: one contact per address.
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT,
    -- Where display_name was seen: 3 the person's own From, 2 Reply-To, 1 a name others
    -- give them (To, Cc, Bcc), 0 nowhere. Among equal ranks the newest message wins.
    name_rank INTEGER NOT NULL,
    name_date BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (grant_id, email_key)
);

-- Messages are read for contacts in id order (ids are time-ordered): from here on, each
-- grant's messages are read again on the next run.
CREATE TABLE contact_derivation (
    grant_id TEXT PRIMARY KEY REFERENCES grants(id) ON DELETE CASCADE,
    next_message_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE events (
    -- Derived from grant, UID and RECURRENCE-ID.
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    ical_uid TEXT NOT NULL,
    -- One changed occurrence of a recurring event: its RECURRENCE-ID and its series.
    original_start_time BIGINT,
    master_event_id TEXT,
    -- Which version this is: a later SEQUENCE, or the same and a later DTSTAMP, wins.
    sequence BIGINT NOT NULL,
    dtstamp BIGINT NOT NULL,
    -- 0 while only a cancellation without times is known.
    described INTEGER NOT NULL,
    -- confirmed | tentative | cancelled
    status TEXT NOT NULL,
    title TEXT,
    title_lower TEXT,
    description TEXT,
    location TEXT,
    -- Unix seconds covered, [start_time, end_time); all-day events by UTC days, which
    -- start_date and end_date (inclusive, YYYY-MM-DD) give exactly.
    all_day INTEGER NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    start_timezone TEXT,
    end_timezone TEXT,
    start_date TEXT,
    end_date TEXT,
    busy INTEGER NOT NULL,
    visibility TEXT,
    organizer_json TEXT,
    participants_json TEXT NOT NULL,
    recurrence_json TEXT NOT NULL,
    -- The message the current version came from.
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX events_by_start ON events (grant_id, start_time, id);
CREATE INDEX events_by_uid ON events (grant_id, ical_uid);

-- Bodies read before invitations were read have their calendar parts read again.
UPDATE messages SET body_fetched = 0
WHERE body_fetched = 1
  AND (attachments_json LIKE '%"text/calendar"%' OR LOWER(attachments_json) LIKE '%.ics"%');
