-- Messages known by an identity other than their Message-ID (a Gmail message is known by
-- its Gmail id, `gm:<X-GM-MSGID>`) are found by their Message-ID header too: replies and
-- the API name messages by it. Other messages are found by their `mid:` identity and
-- stay out of this index.
CREATE INDEX messages_by_header ON messages (grant_id, message_id_header)
    WHERE identity_key NOT LIKE 'mid:%';
