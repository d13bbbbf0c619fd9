// Changing and sending mail with the official Node SDK (nylas 8.4.0, unchanged), checked
// with a second IMAP client on the mailbox itself:
//
//   * messages.send with a 5.5 MB attachment: the SDK switches to multipart/form-data, and
//     the recipient's INBOX and the sender's Sent hold byte-identical attachments;
//   * messages.update: unread/starred become \Seen/\Flagged on the server, folders moves the
//     message, metadata keys come back exactly as written (the SDK leaves them alone);
//   * drafts.create + drafts.send: the draft is delivered with its Message-ID and leaves Drafts;
//   * an Idempotency-Key (SDK overrides): a multipart send and a draft send, each asked for
//     twice, go out once and answer the first answer; another request under a key is a 422;
//   * folders.create (top level and with parentId) and folders.destroy show in the server's
//     LIST; a special folder is refused with a 400.
//
// This file owns testbed user29 (its own lock, its own mailroom): it wipes it, APPENDs two
// messages with seed_imap.py, and reads the mailbox back with Python's imaplib (Node has no
// IMAP client, and the suite already relies on python3). Every wait polls with a deadline.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { NylasApiError } from 'nylas';

import { MailroomServer, waitForSync } from './helper.js';
import { acquireLock, resetUser, run, sharedSetup, startTestbed } from '../../support/mailroom_process.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USER = 'user29';
const PASSWORD = 'pass29';
const EMAIL = `${USER}@example.test`;
const DELIVERY_TIMEOUT_MS = 60_000;
const IMAP_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 200;
const LARGE_SIZE = 5_500_000;

// --------------------------------------------------------------------------- the second IMAP client

// One short imaplib session per call (STARTTLS, verified with the testbed CA). Reads a JSON
// request on stdin and prints one JSON line:
//   {"op": "folders"}                          -> {"folders": {"INBOX": ["\\HasNoChildren"], ...}}
//   {"op": "search", "folder": F, "subject": S} -> {"messages": [{uid, flags, message_id,
//       subject, attachments: [{filename, content_type, size, sha256}]}]}
const IMAP_SCRIPT = String.raw`
import base64, email, hashlib, imaplib, json, re, ssl, sys
from email.policy import default
spec = json.load(sys.stdin)

def mutf7_decode(name):
    def repl(m):
        if m.group(1) == "":
            return "&"
        b = m.group(1).replace(",", "/")
        return base64.b64decode(b + "=" * (-len(b) % 4)).decode("utf-16-be")
    return re.sub(r"&([^-]*)-", repl, name)

def mutf7_encode(name):
    out, pending = [], []
    def flush():
        if pending:
            u = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(u).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)

imap = imaplib.IMAP4(spec["host"], int(spec["port"]), timeout=30)
imap.starttls(ssl_context=ssl.create_default_context(cafile=spec["ca"]))
imap.login(spec["user"], spec["password"])
result = {}
if spec["op"] == "folders":
    folders = {}
    typ, lines = imap.list('""', "*")
    for line in lines:
        m = re.match(rb'^\(([^)]*)\) (?:"[^"]*"|NIL) (.+)$', line)
        name = m.group(2).decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        folders[mutf7_decode(name)] = m.group(1).decode().split()
    result["folders"] = folders
elif spec["op"] == "search":
    messages = []
    quoted = '"' + mutf7_encode(spec["folder"]).replace("\\", "\\\\").replace('"', '\\"') + '"'
    typ, _ = imap.select(quoted, readonly=True)
    if typ == "OK":
        typ, data = imap.uid("SEARCH", "SUBJECT", '"%s"' % spec["subject"])
        for uid in data[0].split():
            typ, parts = imap.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
            raw, flags = b"", []
            for part in parts:
                head = part[0] if isinstance(part, tuple) else part
                if isinstance(part, tuple):
                    raw = part[1]
                if isinstance(head, bytes):
                    m = re.search(rb"FLAGS \(([^)]*)\)", head)
                    if m:
                        flags = m.group(1).decode().split()
            msg = email.message_from_bytes(raw, policy=default)
            attachments = []
            for p in msg.walk():
                if p.is_multipart() or p.get_filename() is None:
                    continue
                body = p.get_payload(decode=True)
                attachments.append({"filename": p.get_filename(), "content_type": p.get_content_type(),
                                    "size": len(body), "sha256": hashlib.sha256(body).hexdigest()})
            messages.append({"uid": uid.decode(), "flags": flags, "message_id": msg["Message-ID"],
                             "subject": msg["Subject"], "attachments": attachments})
    result["messages"] = messages
imap.logout()
print(json.dumps(result))
`;

function imap(testbed, request) {
  const spec = {
    host: 'localhost',
    port: Number(testbed.TESTBED_IMAP_PORT),
    ca: testbed.TESTBED_CA,
    user: EMAIL,
    password: PASSWORD,
    ...request,
  };
  const out = run('python3', ['-c', IMAP_SCRIPT], { input: JSON.stringify(spec), timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

const imapFolders = (testbed) => imap(testbed, { op: 'folders' }).folders;
const imapSearch = (testbed, folder, subject) => imap(testbed, { op: 'search', folder, subject }).messages;

/** Polls `probe() -> [done, observed]` until done; throws with the last observation. */
async function until(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [done, observed] = await probe();
    if (done) return observed;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last seen: ${JSON.stringify(observed)}`);
    }
    await delay(POLL_INTERVAL_MS);
  }
}

/** Polls FOLDER until exactly `count` messages have `subject` in their subject. */
async function waitForSubject(testbed, folder, subject, { count = 1, timeoutMs = DELIVERY_TIMEOUT_MS } = {}) {
  return until(
    `${count} message(s) "${subject}" in ${folder}`,
    () => {
      const found = imapSearch(testbed, folder, subject);
      return [found.length === count, found];
    },
    timeoutMs,
  );
}

// --------------------------------------------------------------------------- setup

const T0 = Date.UTC(2026, 1, 2, 9, 0, 0) / 1000;

function seedMessage(n, subject) {
  const date = T0 + n * 3600;
  const raw = [
    'From: Pat Sender <pat@corp.example>',
    `To: ${EMAIL}`,
    `Subject: ${subject}`,
    `Date: ${new Date(date * 1000).toUTCString().replace(/GMT$/, '+0000')}`,
    `Message-ID: <node-changes-${n}@corp.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Body of ${subject}.`,
    '',
  ].join('\r\n');
  return { folder: 'INBOX', flags: [], internaldate: date, raw_base64: Buffer.from(raw).toString('base64'), subject };
}

const SEED = [seedMessage(1, 'Node update target'), seedMessage(2, 'Node bystander')];

async function start() {
  const release = await acquireLock(`mailroom-sdk-node-${USER}`);
  let server;
  try {
    const testbed = startTestbed({ user: USER });
    resetUser(USER);
    const seeded = JSON.parse(
      run('python3', [path.join(HERE, 'seed_imap.py')], {
        input: JSON.stringify({
          host: 'localhost',
          port: Number(testbed.TESTBED_IMAP_PORT),
          ca: testbed.TESTBED_CA,
          user: EMAIL,
          password: PASSWORD,
          messages: SEED,
        }),
        timeout: 60_000,
      })
        .trim()
        .split('\n')
        .pop(),
    );
    assert.equal(seeded.appended, SEED.length);

    server = new MailroomServer(testbed, 'mail-changes');
    await server.start();
    const app = server.appCreate('sdk-node-mail-changes');
    const nylas = server.client(app.api_key);
    await nylas.connectors.create({ requestBody: { provider: 'imap' } });
    const grant = await nylas.auth.customAuthentication({
      requestBody: {
        provider: 'imap',
        settings: {
          imap_username: EMAIL,
          imap_password: PASSWORD,
          imap_host: 'localhost',
          imap_port: Number(testbed.TESTBED_IMAP_PORT),
          smtp_host: 'localhost',
          smtp_port: Number(testbed.TESTBED_SUBMISSION_PORT),
        },
      },
    });
    const grantId = grant.data.id;
    assert.ok(grantId, `customAuthentication returned ${JSON.stringify(grant)}`);
    await waitForSync(server, app.api_key, grantId, SEED.length);

    const folders = (await nylas.folders.list({ identifier: grantId })).data;
    const byAttribute = (attr) => folders.find((f) => (f.attributes ?? []).includes(attr));
    const ids = {
      inbox: byAttribute('\\Inbox')?.id,
      archive: byAttribute('\\Archive')?.id,
      sent: byAttribute('\\Sent')?.id,
    };
    for (const [k, v] of Object.entries(ids)) assert.ok(v, `no ${k} folder among ${JSON.stringify(folders)}`);
    let closed = false;
    return {
      testbed,
      server,
      nylas,
      grantId,
      apiKey: app.api_key,
      folders: ids,
      folderNames: Object.fromEntries(folders.map((f) => [f.id, f.name])),
      async close() {
        if (closed) return;
        closed = true;
        try {
          await server.stop();
        } finally {
          release();
        }
      },
    };
  } catch (e) {
    try {
      await server?.stop();
    } finally {
      release();
    }
    throw server ? server.addDiagnostics(e) : e;
  }
}

const suite = sharedSetup(start);

function tag() {
  return crypto.randomBytes(6).toString('hex');
}

/** `size` deterministic, incompressible bytes. */
function largeBytes(size, label) {
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let i = 0; offset < size; i++) {
    offset += crypto.createHash('sha256').update(`${label}:${i}`).digest().copy(out, offset);
  }
  return out;
}

async function messageBySubject(subject) {
  const { nylas, grantId } = await suite();
  const found = (await nylas.messages.list({ identifier: grantId, queryParams: { subject, limit: 10 } })).data;
  const exact = found.filter((m) => m.subject === subject);
  assert.equal(exact.length, 1, `messages with subject ${JSON.stringify(subject)}: ${exact.length}`);
  return exact[0];
}

// --------------------------------------------------------------------------- tests

describe('messages.send with a large attachment', () => {
  it('goes multipart and delivers identical bytes to INBOX and to Sent', async () => {
    const { nylas, grantId, testbed } = await suite();
    const data = largeBytes(LARGE_SIZE, 'node-large');
    const digest = crypto.createHash('sha256').update(data).digest('hex');
    const t = tag();
    const subject = `Node large send ${t}`;

    // See what the SDK puts on the wire: the Content-Type of the send request.
    const realFetch = globalThis.fetch;
    const sendContentTypes = [];
    globalThis.fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input.url;
      if (url.includes('/messages/send')) {
        sendContentTypes.push(input.headers?.get?.('content-type') ?? init?.headers?.['Content-Type']);
      }
      return realFetch(input, init);
    };
    let response;
    try {
      response = await nylas.messages.send({
        identifier: grantId,
        requestBody: {
          to: [{ email: EMAIL, name: 'Node Twentynine' }],
          subject,
          body: '<p>A <b>large</b> attachment.</p>',
          attachments: [
            { filename: 'large.bin', contentType: 'application/octet-stream', content: data, size: data.length },
          ],
        },
      });
    } finally {
      globalThis.fetch = realFetch;
    }
    assert.equal(sendContentTypes.length, 1);
    assert.match(sendContentTypes[0], /^multipart\/form-data; boundary=/);

    assert.equal(typeof response.requestId, 'string');
    assert.equal(response.data.object, 'message');
    assert.equal(response.data.grantId, grantId);
    assert.equal(response.data.subject, subject);
    assert.deepEqual(response.data.to.map((p) => p.email), [EMAIL]);

    const expected = [{ filename: 'large.bin', content_type: 'application/octet-stream', size: LARGE_SIZE, sha256: digest }];
    const [delivered] = await waitForSubject(testbed, 'INBOX', t);
    assert.deepEqual(delivered.attachments, expected);
    const [filed] = await waitForSubject(testbed, 'Sent', t, { timeoutMs: IMAP_TIMEOUT_MS });
    assert.deepEqual(filed.attachments, expected);
    assert.equal(filed.message_id, delivered.message_id);
  });
});

describe('Idempotency-Key', () => {
  it('a multipart send repeated under one key (a new boundary each time) goes out once', async () => {
    const { nylas, grantId, testbed } = await suite();
    const t = tag();
    const subject = `Node idempotent send ${t}`;
    // Over 3 MB of attachments: the SDK sends multipart/form-data, with a fresh boundary
    // on every call.
    const data = largeBytes(3_200_000, 'node-idempotent');
    const send = () =>
      nylas.messages.send({
        identifier: grantId,
        requestBody: {
          to: [{ email: EMAIL }],
          subject,
          body: 'Sent once, asked for twice.',
          attachments: [{ filename: 'once.bin', contentType: 'application/octet-stream', content: data, size: data.length }],
        },
        overrides: { headers: { 'Idempotency-Key': `node-send-${t}` } },
      });
    const first = await send();
    const again = await send();
    assert.equal(again.data.id, first.data.id);
    assert.equal(again.data.subject, subject);
    await waitForSubject(testbed, 'INBOX', t);
    await waitForSubject(testbed, 'Sent', t, { timeoutMs: IMAP_TIMEOUT_MS });
    // A later message arriving alone shows no second copy was on its way.
    const marker = `Node marker ${tag()}`;
    await nylas.messages.send({ identifier: grantId, requestBody: { to: [{ email: EMAIL }], subject: marker, body: 'after' } });
    await waitForSubject(testbed, 'INBOX', marker);
    assert.equal(imapSearch(testbed, 'INBOX', t).length, 1);
  });

  it('drafts.send repeated under one key sends the draft once; another request under it is refused', async () => {
    const { nylas, grantId, testbed } = await suite();
    const t = tag();
    const subject = `Node idempotent draft ${t}`;
    const draft = await nylas.drafts.create({
      identifier: grantId,
      requestBody: { subject, body: 'Drafted once.', to: [{ email: EMAIL }] },
    });
    const overrides = { headers: { 'Idempotency-Key': `node-draft-${t}` } };
    const first = await nylas.drafts.send({ identifier: grantId, draftId: draft.data.id, overrides });
    const again = await nylas.drafts.send({ identifier: grantId, draftId: draft.data.id, overrides });
    assert.equal(again.data.id, first.data.id);
    await assert.rejects(
      nylas.messages.send({ identifier: grantId, requestBody: { to: [{ email: EMAIL }], subject: 'other', body: 'x' }, overrides }),
      (e) => e instanceof NylasApiError && e.statusCode === 422,
    );
    await waitForSubject(testbed, 'INBOX', t);
    const marker = `Node marker ${tag()}`;
    await nylas.messages.send({ identifier: grantId, requestBody: { to: [{ email: EMAIL }], subject: marker, body: 'after' } });
    await waitForSubject(testbed, 'INBOX', marker);
    assert.equal(imapSearch(testbed, 'INBOX', t).length, 1);
  });
});

describe('drafts', () => {
  it('drafts.create then drafts.send (the SDK posts {}) delivers it and empties Drafts', async () => {
    const { nylas, grantId, testbed } = await suite();
    const t = tag();
    const subject = `Node draft ${t}`;
    const draft = await nylas.drafts.create({
      identifier: grantId,
      requestBody: { subject, body: 'Drafted in Node.', to: [{ email: EMAIL }] },
    });
    assert.equal(draft.data.object, 'draft');
    assert.equal(draft.data.grantId, grantId);
    const [stored] = await waitForSubject(testbed, 'Drafts', t, { timeoutMs: IMAP_TIMEOUT_MS });
    assert.ok(stored.flags.includes('\\Draft'), `flags ${stored.flags}`);

    const sent = await nylas.drafts.send({ identifier: grantId, draftId: draft.data.id });
    assert.equal(sent.data.object, 'message');
    assert.equal(sent.data.grantId, grantId);
    assert.equal(sent.data.subject, subject);
    const [delivered] = await waitForSubject(testbed, 'INBOX', t);
    assert.equal(delivered.message_id, stored.message_id, 'the sent message keeps the draft\'s Message-ID');
    await waitForSubject(testbed, 'Sent', t, { timeoutMs: IMAP_TIMEOUT_MS });
    await waitForSubject(testbed, 'Drafts', t, { count: 0, timeoutMs: IMAP_TIMEOUT_MS });
  });
});

describe('messages.update', () => {
  it('sets and clears \\Seen and \\Flagged on the server', async () => {
    const { nylas, grantId, testbed, folders } = await suite();
    const subject = 'Node update target';
    const target = await messageBySubject(subject);
    assert.equal(target.unread, true);
    assert.equal(target.starred, false);

    const flags = async () => {
      const found = imapSearch(testbed, 'INBOX', subject);
      return found.length === 1 ? found[0].flags : null;
    };

    const updated = await nylas.messages.update({
      identifier: grantId,
      messageId: target.id,
      requestBody: { unread: false, starred: true },
    });
    assert.equal(updated.data.id, target.id);
    assert.equal(updated.data.unread, false);
    assert.equal(updated.data.starred, true);
    assert.deepEqual(updated.data.folders, [folders.inbox]);
    await until('\\Seen and \\Flagged', async () => {
      const f = await flags();
      return [f && f.includes('\\Seen') && f.includes('\\Flagged'), f];
    }, IMAP_TIMEOUT_MS);

    const back = await nylas.messages.update({
      identifier: grantId,
      messageId: target.id,
      requestBody: { unread: true, starred: false },
    });
    assert.equal(back.data.unread, true);
    assert.equal(back.data.starred, false);
    await until('both flags cleared', async () => {
      const f = await flags();
      return [f && !f.includes('\\Seen') && !f.includes('\\Flagged'), f];
    }, IMAP_TIMEOUT_MS);
    const found = await nylas.messages.find({ identifier: grantId, messageId: target.id });
    assert.equal(found.data.unread, true);
    assert.equal(found.data.starred, false);
  });

  it('moves the message with folders and back', async () => {
    const { nylas, grantId, testbed, folders, folderNames } = await suite();
    const subject = 'Node update target';
    const target = await messageBySubject(subject);
    const archiveName = folderNames[folders.archive];

    const where = () => ({
      INBOX: imapSearch(testbed, 'INBOX', subject).length,
      [archiveName]: imapSearch(testbed, archiveName, subject).length,
    });

    const moved = await nylas.messages.update({
      identifier: grantId,
      messageId: target.id,
      requestBody: { folders: [folders.archive] },
    });
    assert.equal(moved.data.id, target.id);
    assert.deepEqual(moved.data.folders, [folders.archive]);
    await until(`the message only in ${archiveName}`, async () => {
      const w = where();
      return [w.INBOX === 0 && w[archiveName] === 1, w];
    }, IMAP_TIMEOUT_MS);
    const inArchive = await nylas.messages.list({ identifier: grantId, queryParams: { in: [folders.archive] } });
    assert.ok(inArchive.data.some((m) => m.id === target.id));

    const back = await nylas.messages.update({
      identifier: grantId,
      messageId: target.id,
      requestBody: { folders: [folders.inbox] },
    });
    assert.deepEqual(back.data.folders, [folders.inbox]);
    await until('the message back in INBOX only', async () => {
      const w = where();
      return [w.INBOX === 1 && w[archiveName] === 0, w];
    }, IMAP_TIMEOUT_MS);
    // The bystander was not touched.
    assert.equal(imapSearch(testbed, 'INBOX', 'Node bystander').length, 1);
  });

  it('keeps metadata keys exactly as written', async () => {
    const { nylas, grantId, server, apiKey } = await suite();
    const target = await messageBySubject('Node bystander');
    // Node snake_cases request keys except a top-level metadata, so the server receives
    // these keys as written and must store them so. (On the way back the SDK camelCases
    // everything under `data`, metadata included: snake_key reaches the caller as snakeKey.)
    const metadata = { projectCode: 'apollo', key1: 'v1', snake_key: 'yes' };
    const asTheSdkReturnsIt = { projectCode: 'apollo', key1: 'v1', snakeKey: 'yes' };
    const updated = await nylas.messages.update({
      identifier: grantId,
      messageId: target.id,
      requestBody: { metadata },
    });
    assert.deepEqual(updated.data.metadata, asTheSdkReturnsIt);
    const raw = await server.raw(
      'GET',
      `/v3/grants/${encodeURIComponent(grantId)}/messages/${encodeURIComponent(target.id)}`,
      apiKey,
    );
    assert.equal(raw.status, 200, raw.text);
    assert.deepEqual(raw.json.data.metadata, metadata);
    const found = await nylas.messages.find({ identifier: grantId, messageId: target.id });
    assert.deepEqual(found.data.metadata, asTheSdkReturnsIt);
    assert.equal(found.data.unread, true, 'a metadata update leaves the flags alone');
  });
});

describe('messages.cleanMessages', () => {
  it('answers an Outlook reply with only its new text in conversation', async () => {
    const { nylas, grantId, testbed } = await suite();
    const t = tag();
    const subject = `RE: Budget ${t}`;
    // As Outlook on the desktop writes a reply: the new text, a sign-off, then the
    // separator and the quoted message's header block.
    const body = [
      '<div class="WordSection1"><p class="MsoNormal">Approved, go ahead with the second quote.</p>',
      '<p class="MsoNormal">Thanks,</p><p class="MsoNormal">Ruth</p>',
      '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">',
      '<p class="MsoNormal"><b>From:</b> Ola &lt;ola@example.test&gt;<br><b>Sent:</b> Tuesday, December 3, 2024 10:00 AM<br>',
      '<b>To:</b> Ruth &lt;ruth@example.test&gt;<br><b>Subject:</b> Budget</p></div>',
      '<p class="MsoNormal">Which of the two quotes should we take?</p></div>',
    ].join('\n');
    await nylas.messages.send({ identifier: grantId, requestBody: { to: [{ email: EMAIL }], subject, body } });
    await waitForSubject(testbed, 'INBOX', t);
    const indexed = await until(
      `"${subject}" in the index`,
      async () => {
        const found = (await nylas.messages.list({ identifier: grantId, queryParams: { subject, limit: 10 } })).data;
        return [found.length >= 1, found];
      },
      DELIVERY_TIMEOUT_MS,
    );
    const ids = indexed.map((m) => m.id);
    const cleaned = await nylas.messages.cleanMessages({ identifier: grantId, requestBody: { messageId: ids } });
    assert.deepEqual(cleaned.data.map((m) => m.id), ids);
    for (const message of cleaned.data) {
      assert.match(message.conversation, /Approved, go ahead with the second quote\./);
      for (const gone of ['Which of the two quotes', 'From:', 'Thanks,', 'Ruth']) {
        assert.ok(!message.conversation.includes(gone), `${gone} in ${JSON.stringify(message.conversation)}`);
      }
    }
    await assert.rejects(
      nylas.messages.cleanMessages({ identifier: grantId, requestBody: { messageId: [] } }),
      (e) => e instanceof NylasApiError && e.statusCode === 400,
    );
  });
});

describe('folders', () => {
  it('folders.create (with parentId) and folders.destroy show in the server LIST', async () => {
    const { nylas, grantId, testbed } = await suite();
    const name = `Node ${tag()}`;
    const parent = await nylas.folders.create({ identifier: grantId, requestBody: { name } });
    assert.equal(typeof parent.requestId, 'string');
    assert.equal(parent.data.name, name);
    assert.equal(parent.data.grantId, grantId);
    assert.ok(parent.data.id);
    assert.ok(!parent.data.parentId, 'a top-level folder has no parent');
    assert.ok(name in imapFolders(testbed), `${name} not in the server's LIST`);

    const child = await nylas.folders.create({
      identifier: grantId,
      requestBody: { name: 'Sous-dossier é', parentId: parent.data.id },
    });
    assert.equal(child.data.name, 'Sous-dossier é');
    assert.equal(child.data.parentId, parent.data.id);
    assert.ok(`${name}/Sous-dossier é` in imapFolders(testbed));
    const found = await nylas.folders.find({ identifier: grantId, folderId: child.data.id });
    assert.equal(found.data.parentId, parent.data.id);

    for (const [folder, imapName] of [
      [child.data, `${name}/Sous-dossier é`],
      [parent.data, name],
    ]) {
      const deleted = await nylas.folders.destroy({ identifier: grantId, folderId: folder.id });
      assert.equal(typeof deleted.requestId, 'string');
      assert.ok(!(imapName in imapFolders(testbed)), `${imapName} is still on the server`);
      await assert.rejects(nylas.folders.find({ identifier: grantId, folderId: folder.id }), (error) => {
        assert.ok(error instanceof NylasApiError, `expected NylasApiError, got ${error}`);
        assert.equal(error.statusCode, 404);
        return true;
      });
    }
    const listed = (await nylas.folders.list({ identifier: grantId })).data;
    assert.ok(!listed.some((f) => f.name === name || f.name === 'Sous-dossier é'));
  });

  it('refuses to delete Inbox or a special-use folder with a 400', async () => {
    const { nylas, grantId, testbed, folders } = await suite();
    for (const id of [folders.inbox, folders.sent]) {
      await assert.rejects(nylas.folders.destroy({ identifier: grantId, folderId: id }), (error) => {
        assert.ok(error instanceof NylasApiError, `expected NylasApiError, got ${error}`);
        assert.equal(error.statusCode, 400);
        assert.ok(error.requestId, 'the requestId comes from the x-request-id header');
        return true;
      });
    }
    const names = imapFolders(testbed);
    assert.ok('INBOX' in names && 'Sent' in names);
  });
});
