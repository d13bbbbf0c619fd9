#!/usr/bin/env python3
"""APPENDs messages to a testbed mailbox over IMAP (STARTTLS, verified against the testbed CA).

Node has no IMAP client in its standard library, so the Node helper (helper.js) builds the
messages and hands them to this script as one JSON object on stdin:

    {"host": "localhost", "port": 31143, "ca": "/tmp/mailroom-testbed/ca.pem",
     "user": "user8@example.test", "password": "pass8",
     "messages": [{"folder": "INBOX", "flags": ["\\\\Seen"], "internaldate": 1735689600,
                   "raw_base64": "<the RFC 822 bytes, standard base64>"}, ...]}

It prints one JSON line, {"appended": N, "uids": {"INBOX": [..], ...}}, and exits 0, or
prints the reason on stderr and exits 1. Python 3 stdlib only.
"""

import base64
import json
import re
import socket
import ssl
import sys
import imaplib

TIMEOUT = 30


def main() -> int:
    spec = json.load(sys.stdin)
    context = ssl.create_default_context(cafile=spec["ca"])
    imap = imaplib.IMAP4(spec["host"], int(spec["port"]), timeout=TIMEOUT)
    try:
        imap.starttls(ssl_context=context)
        imap.login(spec["user"], spec["password"])
        uids = {}
        for i, message in enumerate(spec["messages"]):
            raw = base64.b64decode(message["raw_base64"])
            flags = "(" + " ".join(message.get("flags", [])) + ")"
            date = imaplib.Time2Internaldate(int(message["internaldate"]))
            typ, data = imap.append(message["folder"], flags, date, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND #{i} to {message['folder']} failed: {typ} {data!r}")
            # Dovecot answers with UIDPLUS: [APPENDUID <uidvalidity> <uid>]
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if match:
                uids.setdefault(message["folder"], []).append(int(match.group(1)))
        imap.logout()
    except (imaplib.IMAP4.error, OSError, ssl.SSLError, socket.timeout, RuntimeError) as e:
        print(f"seeding {spec.get('user')} failed: {e!r}", file=sys.stderr)
        return 1
    print(json.dumps({"appended": len(spec["messages"]), "uids": uids}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
