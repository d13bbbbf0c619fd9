-- The flags each copy of a message has on its server (RFC 3501 §2.3.2), as bits: 1 \Seen,
-- 2 \Flagged, 4 \Answered, 8 \Draft. A message's own flags are what its copies say
-- together (crates/store/src/location_flags.rs), so two copies with different flags no
-- longer make it take whichever was read last. NULL: not known. The copies start with
-- the flags their message has.
ALTER TABLE message_locations ADD COLUMN flags BIGINT;
UPDATE message_locations SET flags = (
    SELECT (1 - m.unread) + 2 * m.starred + 4 * m.answered + 8 * m.draft
    FROM messages m WHERE m.id = message_locations.message_id);
