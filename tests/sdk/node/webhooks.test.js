// Webhooks through the official Nylas Node SDK (nylas 8.4.0, unchanged), the way an
// application uses them, against a real mailroom and the testbed (Dovecot + Postfix):
//
//   * nylas.webhooks.create: mailroom first sends `GET <url>?challenge=X`, and the receiver
//     (an http.createServer on 127.0.0.1 in this file) answers 200 with exactly X, found with
//     the SDK's own `extractChallengeParameter`. The create answer carries `webhookSecret`,
//     and nothing else ever shows it again (list, find);
//   * update (description, triggerTypes, webhookUrl, status 'pause' and back to 'active'; a
//     new URL and a resume each ask for a new challenge), rotateSecret (Node 8 sends
//     POST /v3/webhooks/rotate-secret/{id}), ipAddresses, destroy (then find is a 404);
//   * refusals, as NylasApiError 400 with nothing stored: an unknown trigger type, and a
//     receiver that answers the challenge with something else;
//   * one delivery end to end: user48 mails user47 through SMTP submission, and the receiver
//     gets `message.created` whose X-Nylas-Signature is the lowercase hex HMAC-SHA256 of the
//     raw body keyed with the webhook secret (checked with node:crypto; the SDK has no helper
//     for it); after rotateSecret, starring the message with messages.update gets
//     `message.updated` with `starred: true`, signed with the new secret and not the old one;
//   * a real bounce: a message to @bounces.example.test comes back as Postfix's RFC 3464
//     report, announced once as `message.bounce_detected`, matched to the message sent;
//   * tracking: a message sent to the grant itself with `trackingOptions` is read back from
//     its Inbox with the SDK; loading its image and following its link fire
//     `message.opened` and `message.link_clicked` (the server's public_url is its own
//     address, chosen before it starts).
//
// This file owns testbed users user47 (the grant) and user48 (who writes to it), takes a lock
// on each, and wipes both first. It runs its own `mailroom serve` (MailroomServerProcess from
// ../../support/mailroom_process.js, with its `env` option) that allows plain-http loopback
// webhook URLs, looks at mailboxes every second and retries a delivery after one. Each test
// uses a fresh application, so its webhook list starts empty. Waits poll every 50 ms with a
// 30 s deadline; nothing sleeps a fixed time.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';

import Nylas, { NylasApiError } from 'nylas';

import { SDK_TIMEOUT_S } from './helper.js';
import {
  MailroomServerProcess,
  acquireLock,
  resetUser,
  run,
  sharedSetup,
  startTestbed,
} from '../../support/mailroom_process.js';

const USER = 'user47'; // the grant whose mail is announced
const SENDER = 'user48'; // writes to user47 through SMTP submission
const DOMAIN = 'example.test';
const email = (user) => `${user}@${DOMAIN}`;
const password = (user) => user.replace(/^user/, 'pass');

const POLL_MS = 50;
const DEADLINE_MS = 30_000;

// --------------------------------------------------------------------------- helpers

let liveServer; // for diagnostics when a wait times out

/** Polls `probe() -> [done, observed]` every 50 ms until done; throws with the last observation. */
async function until(what, probe, timeoutMs = DEADLINE_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [done, observed] = await probe();
    if (done) return observed;
    if (Date.now() > deadline) {
      const error = new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}; last seen: ${JSON.stringify(observed)}`,
      );
      throw liveServer ? liveServer.addDiagnostics(error) : error;
    }
    await delay(POLL_MS);
  }
}

/** What Nylas documents for X-Nylas-Signature: lowercase hex HMAC-SHA256 of the raw body. */
function signatureOf(secret, raw) {
  return crypto.createHmac('sha256', secret).update(raw).digest('hex');
}

function tag() {
  return crypto.randomBytes(5).toString('hex');
}

/** Asserts that `promise` rejects with the SDK's NylasApiError of `statusCode`. */
async function rejectsWithApiError(promise, statusCode, messagePattern) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof NylasApiError, `expected NylasApiError, got ${error?.stack ?? error}`);
    assert.equal(error.statusCode, statusCode, error.message);
    assert.ok(error.requestId, 'the requestId comes from the x-request-id header');
    if (messagePattern) assert.match(error.message, messagePattern);
    return true;
  });
}

/** Records the method and path of every request the SDK makes while `fn` runs. */
async function onTheWire(fn) {
  const realFetch = globalThis.fetch;
  const requests = [];
  globalThis.fetch = (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(`${request.method} ${new URL(request.url).pathname}`);
    return realFetch(input, init);
  };
  try {
    return { result: await fn(), requests };
  } finally {
    globalThis.fetch = realFetch;
  }
}

// --------------------------------------------------------------------------- the receiver

/**
 * An application's webhook endpoint on 127.0.0.1. GET answers the challenge (with the
 * SDK's `extractChallengeParameter`), or, if not `honest`, something else; POST records the
 * notification as it came over the wire (raw bytes, signature, parsed JSON) and answers 200.
 */
class Receiver {
  constructor(extractChallenge, { honest = true } = {}) {
    this.challenges = []; // the `?challenge=` values asked for
    this.posts = []; // { raw, signature, contentType, body }
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        let answer = '';
        if (req.method === 'GET') {
          let challenge = null;
          try {
            challenge = extractChallenge(new URL(req.url, 'http://receiver').href);
          } catch {
            // no challenge parameter: answer nothing
          }
          if (challenge !== null) {
            this.challenges.push({ path: req.url, challenge });
            answer = honest ? challenge : `not-${challenge}`;
          }
        } else if (req.method === 'POST') {
          const raw = Buffer.concat(chunks);
          let body;
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            body = { unparsable: raw.toString('utf8') };
          }
          this.posts.push({
            raw,
            signature: req.headers['x-nylas-signature'],
            contentType: req.headers['content-type'] ?? '',
            body,
          });
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
  }

  async listen() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${this.server.address().port}/nylas/webhook`;
    return this;
  }

  /** (type, object id, subject, starred) of every notification so far, for failure messages. */
  summary() {
    return this.posts.map((p) => [p.body.type, p.body.data?.object?.id, p.body.data?.object?.subject, p.body.data?.object?.starred]);
  }

  /** Waits for the first notification of `type` whose data.object matches. */
  waitFor(type, match) {
    return until(`a ${type} notification`, () => {
      const found = this.posts.find((p) => p.body.type === type && match(p.body.data?.object ?? {}));
      return [Boolean(found), found ?? this.summary()];
    });
  }

  close() {
    this.server.closeAllConnections();
    this.server.close();
  }
}

// --------------------------------------------------------------------------- setup

/** A port free on 127.0.0.1 right now, for a server that must know its address first. */
async function freePort() {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  await once(probe, 'close');
  return port;
}

async function start() {
  const releases = [];
  let server;
  try {
    for (const user of [USER, SENDER]) releases.push(await acquireLock(`mailroom-sdk-node-${user}`));
    const testbed = startTestbed({ user: SENDER });
    resetUser(USER);
    resetUser(SENDER);

    const port = await freePort();
    server = new MailroomServerProcess(testbed, {
      dirPrefix: 'mailroom-sdk-node-webhooks-',
      listen: `127.0.0.1:${port}`,
      env: {
        MAILROOM_PUBLIC_URL: `http://127.0.0.1:${port}`, // where tracking URLs point
        MAILROOM_ALLOW_PRIVATE_HOSTS: 'true', // the receiver is on 127.0.0.1 ...
        MAILROOM_ALLOW_INSECURE_TRANSPORT: 'true', // ... and speaks plain http
        MAILROOM_PROVIDER_TIMEOUT_SECS: '3',
        MAILROOM_SYNC_POLL_SECS: '1',
        MAILROOM_WEBHOOK_RETRY_SECS: '1',
        // The operator's notification mailer, without which notificationEmailAddresses is
        // refused (docs/API.md §6.3): the testbed's SMTP port, which delivers any domain
        // but its own (ops@example.com) to its sink mailbox (testbed/README.md).
        MAILROOM_NOTIFICATION_SMTP_URL: `smtp://127.0.0.1:${testbed.TESTBED_SMTP_PORT}`,
        MAILROOM_NOTIFICATION_FROM: 'mailroom-notices@example.test',
      },
      httpTimeoutMs: SDK_TIMEOUT_S * 1000,
    });
    await server.start();
    liveServer = server;

    let closed = false;
    return {
      testbed,
      server,
      /** A fresh application (empty webhook list) and an SDK client for it. */
      newApp(name) {
        const app = server.appCreate(`sdk-node-webhooks-${name}`);
        const nylas = new Nylas({ apiKey: app.api_key, apiUri: server.baseUrl, timeout: SDK_TIMEOUT_S });
        return { app, nylas, raw: (method, urlPath) => server.raw(method, urlPath, app.api_key) };
      },
      async close() {
        if (closed) return;
        closed = true;
        try {
          await server.stop();
        } finally {
          for (const release of releases) release();
        }
      },
    };
  } catch (e) {
    try {
      await server?.stop();
    } finally {
      for (const release of releases) release();
    }
    throw server ? server.addDiagnostics(e) : e;
  }
}

const suite = sharedSetup(start);

/** A receiver that answers challenges with the SDK's helper, closed by `fn`'s end. */
async function withReceiver(nylas, fn, options) {
  const receiver = await new Receiver((url) => nylas.webhooks.extractChallengeParameter(url), options).listen();
  try {
    return await fn(receiver);
  } finally {
    receiver.close();
  }
}

/** user48 sends `subject` to user47 through submission (STARTTLS, CA-verified, AUTH). */
function submitFromSender(testbed, subject, text) {
  const script = String.raw`
import json, smtplib, ssl, sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
spec = json.load(sys.stdin)
msg = EmailMessage()
msg["From"] = "Ola Fortyeight <%s>" % spec["from"]
msg["To"] = "Ruth Fortyseven <%s>" % spec["to"]
msg["Subject"] = spec["subject"]
msg["Date"] = formatdate(localtime=False)
msg["Message-ID"] = make_msgid(domain=spec["from"].split("@")[1])
msg.set_content(spec["text"])
with smtplib.SMTP("localhost", int(spec["port"]), timeout=30) as smtp:
    smtp.starttls(context=ssl.create_default_context(cafile=spec["ca"]))
    smtp.login(spec["from"], spec["password"])
    smtp.send_message(msg)
print(json.dumps({"message_id": msg["Message-ID"]}))
`;
  const out = run('python3', ['-c', script], {
    input: JSON.stringify({
      port: testbed.TESTBED_SUBMISSION_PORT,
      ca: testbed.TESTBED_CA,
      from: email(SENDER),
      password: password(SENDER),
      to: email(USER),
      subject,
      text,
    }),
    timeout: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

// --------------------------------------------------------------------------- tests

describe('webhook destinations', () => {
  it('create answers the challenge and shows the secret once; list and find agree', async () => {
    const s = await suite();
    const { nylas, raw } = s.newApp('create');
    await withReceiver(nylas, async (receiver) => {
      assert.deepEqual((await nylas.webhooks.list()).data, []);

      const created = await nylas.webhooks.create({
        requestBody: {
          triggerTypes: ['message.created', 'grant.expired'],
          webhookUrl: receiver.url,
          description: 'node sdk',
          notificationEmailAddresses: ['ops@example.com'],
        },
      });
      assert.equal(typeof created.requestId, 'string');
      const hook = created.data;
      assert.equal(receiver.challenges.length, 1, 'the URL was verified with exactly one challenge');
      assert.equal(new URL(receiver.challenges[0].path, 'http://receiver').pathname, '/nylas/webhook');
      assert.match(receiver.challenges[0].challenge, /^\S{8,}$/);
      assert.equal(typeof hook.webhookSecret, 'string');
      assert.ok(hook.webhookSecret.length >= 16, `a short secret: ${hook.webhookSecret}`);
      assert.equal(typeof hook.id, 'string');
      assert.equal(hook.status, 'active');
      assert.equal(hook.webhookUrl, receiver.url);
      assert.deepEqual(hook.triggerTypes, ['message.created', 'grant.expired']);
      assert.equal(hook.description, 'node sdk');
      assert.deepEqual(hook.notificationEmailAddresses, ['ops@example.com']);
      const now = Date.now() / 1000;
      for (const key of ['createdAt', 'updatedAt', 'statusUpdatedAt']) {
        assert.ok(Number.isInteger(hook[key]) && Math.abs(hook[key] - now) < 600, `${key}: ${hook[key]}`);
      }

      const found = await nylas.webhooks.find({ webhookId: hook.id });
      const { webhookSecret, ...withoutSecret } = hook;
      assert.deepEqual(found.data, withoutSecret, 'find shows everything but the secret');

      const listed = await nylas.webhooks.list();
      assert.deepEqual(listed.data, [withoutSecret]);
      for (const path of ['/v3/webhooks', `/v3/webhooks/${hook.id}`]) {
        const reply = await raw('GET', path);
        assert.equal(reply.status, 200, reply.text);
        assert.ok(!reply.text.includes(webhookSecret), `${path} shows the secret: ${reply.text}`);
        assert.ok(!reply.text.includes('webhook_secret'), `${path} has a webhook_secret key: ${reply.text}`);
      }
      assert.equal(receiver.challenges.length, 1, 'reading does not challenge again');
    });
  });

  it('update changes description, triggerTypes and the URL, pauses, and resumes with a new challenge', async () => {
    const s = await suite();
    const { nylas } = s.newApp('update');
    await withReceiver(nylas, async (receiver) => {
      const hook = (
        await nylas.webhooks.create({
          requestBody: { triggerTypes: ['message.created'], webhookUrl: receiver.url, description: 'before' },
        })
      ).data;
      assert.equal(receiver.challenges.length, 1);

      const updated = await nylas.webhooks.update({
        webhookId: hook.id,
        requestBody: { description: 'after', triggerTypes: ['folder.created', 'message.updated'] },
      });
      assert.equal(updated.data.id, hook.id);
      assert.equal(updated.data.description, 'after');
      assert.deepEqual(updated.data.triggerTypes, ['folder.created', 'message.updated']);
      assert.equal(updated.data.webhookUrl, receiver.url);
      assert.equal(updated.data.status, 'active');
      assert.equal(updated.data.webhookSecret, undefined, 'update does not show the secret');
      assert.equal(receiver.challenges.length, 1, 'no new challenge without a new URL');

      // status is not in the SDK's UpdateWebhookRequest type, but the API takes it and
      // the SDK passes it through.
      const paused = await nylas.webhooks.update({ webhookId: hook.id, requestBody: { status: 'pause' } });
      assert.equal(paused.data.status, 'pause');
      assert.equal(paused.data.description, 'after', 'a status change leaves the rest alone');
      assert.ok(paused.data.statusUpdatedAt >= hook.statusUpdatedAt);
      assert.equal((await nylas.webhooks.find({ webhookId: hook.id })).data.status, 'pause');
      assert.equal(receiver.challenges.length, 1, 'pausing does not challenge');

      const resumed = await nylas.webhooks.update({ webhookId: hook.id, requestBody: { status: 'active' } });
      assert.equal(resumed.data.status, 'active');
      assert.equal(receiver.challenges.length, 2, 'switching back on proves again that the URL listens');
      assert.notEqual(receiver.challenges[1].challenge, receiver.challenges[0].challenge, 'a fresh challenge');
      const found = (await nylas.webhooks.find({ webhookId: hook.id })).data;
      assert.equal(found.status, 'active');
      assert.deepEqual(found.triggerTypes, ['folder.created', 'message.updated']);

      // A new URL (here with a query of its own) must pass the challenge too.
      const moved = await nylas.webhooks.update({
        webhookId: hook.id,
        requestBody: { webhookUrl: `${receiver.url}?v=2` },
      });
      assert.equal(moved.data.webhookUrl, `${receiver.url}?v=2`);
      assert.equal(receiver.challenges.length, 3, 'a new URL is challenged');
      assert.equal(new URL(receiver.challenges[2].path, 'http://receiver').searchParams.get('v'), '2');

      await rejectsWithApiError(
        nylas.webhooks.update({ webhookId: hook.id, requestBody: { status: 'failed' } }),
        400,
        /status/,
      );
      assert.equal((await nylas.webhooks.find({ webhookId: hook.id })).data.status, 'active');
    });
  });

  it('rotateSecret (POST /v3/webhooks/rotate-secret/{id}), ipAddresses, and destroy', async () => {
    const s = await suite();
    const { nylas } = s.newApp('rotate');
    await withReceiver(nylas, async (receiver) => {
      const hook = (
        await nylas.webhooks.create({ requestBody: { triggerTypes: ['message.created'], webhookUrl: receiver.url } })
      ).data;

      const { result: rotated, requests } = await onTheWire(() => nylas.webhooks.rotateSecret({ webhookId: hook.id }));
      assert.deepEqual(requests, [`POST /v3/webhooks/rotate-secret/${hook.id}`]);
      assert.equal(rotated.data.id, hook.id);
      assert.equal(typeof rotated.data.webhookSecret, 'string');
      assert.ok(rotated.data.webhookSecret.length >= 16, rotated.data.webhookSecret);
      assert.notEqual(rotated.data.webhookSecret, hook.webhookSecret, 'a new secret');
      assert.equal(rotated.data.webhookUrl, receiver.url);
      assert.deepEqual(rotated.data.triggerTypes, ['message.created']);
      const again = await nylas.webhooks.rotateSecret({ webhookId: hook.id });
      assert.ok(![hook.webhookSecret, rotated.data.webhookSecret].includes(again.data.webhookSecret));
      assert.equal(receiver.challenges.length, 1, 'rotating does not challenge');

      const ips = await nylas.webhooks.ipAddresses();
      assert.equal(typeof ips.requestId, 'string');
      // No outbound bind address is configured, so there is no fixed address to announce.
      assert.deepEqual(ips.data.ipAddresses, []);
      assert.ok(Number.isInteger(ips.data.updatedAt) && Math.abs(ips.data.updatedAt - Date.now() / 1000) < 600);

      const deleted = await nylas.webhooks.destroy({ webhookId: hook.id });
      assert.equal(typeof deleted.requestId, 'string');
      assert.deepEqual(deleted.data, { status: 'success' });
      await rejectsWithApiError(nylas.webhooks.find({ webhookId: hook.id }), 404);
      await rejectsWithApiError(nylas.webhooks.rotateSecret({ webhookId: hook.id }), 404);
      await rejectsWithApiError(nylas.webhooks.destroy({ webhookId: hook.id }), 404);
      assert.deepEqual((await nylas.webhooks.list()).data, []);
    });
  });

  it('refuses an unknown trigger type and a wrong challenge answer with a 400, storing nothing', async () => {
    const s = await suite();
    const { nylas } = s.newApp('refusals');
    await withReceiver(nylas, async (receiver) => {
      await rejectsWithApiError(
        nylas.webhooks.create({ requestBody: { triggerTypes: ['message.teleported'], webhookUrl: receiver.url } }),
        400,
        /message\.teleported/,
      );
      assert.equal(receiver.challenges.length, 0, 'an invalid request is refused before the challenge');
    });

    await withReceiver(
      nylas,
      async (liar) => {
        await rejectsWithApiError(
          nylas.webhooks.create({ requestBody: { triggerTypes: ['message.created'], webhookUrl: liar.url } }),
          400,
          /challenge/,
        );
        assert.equal(liar.challenges.length, 1, 'the liar was asked once');
      },
      { honest: false },
    );
    assert.deepEqual((await nylas.webhooks.list()).data, []);
  });
});

describe('webhook delivery', () => {
  it('announces new mail and a star, signed with the current secret', async () => {
    const s = await suite();
    const { app, nylas, raw } = s.newApp('delivery');
    await nylas.connectors.create({ requestBody: { provider: 'imap' } });
    await withReceiver(nylas, async (receiver) => {
      const hook = (
        await nylas.webhooks.create({
          requestBody: { triggerTypes: ['message.created', 'message.updated'], webhookUrl: receiver.url },
        })
      ).data;
      const firstSecret = hook.webhookSecret;

      const grant = await nylas.auth.customAuthentication({
        requestBody: {
          provider: 'imap',
          settings: {
            imap_username: email(USER),
            imap_password: password(USER),
            imap_host: 'localhost',
            imap_port: Number(s.testbed.TESTBED_IMAP_PORT),
            smtp_host: 'localhost',
            smtp_port: Number(s.testbed.TESTBED_SUBMISSION_PORT),
          },
        },
      });
      const grantId = grant.data.id;
      assert.ok(grantId, JSON.stringify(grant));
      assert.equal(grant.data.email, email(USER));
      // The SDK's Grant model has no sync_state: read the raw JSON for this one wait.
      await until("the grant's first sync pass", async () => {
        const reply = await raw('GET', `/v3/grants/${encodeURIComponent(grantId)}`);
        return [reply.status === 200 && reply.json?.data?.sync_state === 'running', `${reply.status} ${reply.text}`];
      });

      /** One notification: whole, and signed with `secret` (and with no other). */
      const checkSigned = (post, type, secret, others) => {
        assert.match(post.signature ?? '', /^[0-9a-f]{64}$/, `X-Nylas-Signature: ${post.signature}`);
        assert.equal(post.signature, signatureOf(secret, post.raw), 'signed with the current secret');
        for (const other of others) assert.notEqual(post.signature, signatureOf(other, post.raw));
        assert.match(post.contentType, /^application\/json/);
        const body = post.body;
        assert.equal(body.specversion, '1.0');
        assert.equal(body.type, type);
        assert.ok(typeof body.id === 'string' && body.id, `id: ${body.id}`);
        assert.ok(Number.isInteger(body.time) && Math.abs(body.time - Date.now() / 1000) < 600, `time: ${body.time}`);
        assert.equal(body.webhook_delivery_attempt, 1, 'the receiver always answered 200');
        assert.equal(body.data.application_id, app.application_id);
        assert.equal(body.data.object.object, 'message');
        assert.equal(body.data.object.grant_id, grantId);
      };

      // user48 writes to user47.
      const subject = `Webhook delivery ${tag()}`;
      submitFromSender(s.testbed, subject, 'Signed, sealed, delivered.\n');
      const created = await receiver.waitFor('message.created', (o) => o.subject === subject);
      checkSigned(created, 'message.created', firstSecret, [`${firstSecret}x`, 'another secret']);
      const message = created.body.data.object;
      assert.deepEqual(message.from.map((p) => p.email), [email(SENDER)]);
      assert.deepEqual(message.to.map((p) => p.email), [email(USER)]);
      assert.equal(message.starred, false);
      // The id in the notification is one the SDK can read back.
      const found = await nylas.messages.find({ identifier: grantId, messageId: message.id });
      assert.equal(found.data.subject, subject);
      assert.equal(found.data.threadId, message.thread_id);

      // A new secret: from now on, notifications are signed with it.
      const rotated = await nylas.webhooks.rotateSecret({ webhookId: hook.id });
      const secondSecret = rotated.data.webhookSecret;
      assert.notEqual(secondSecret, firstSecret);

      const starred = await nylas.messages.update({
        identifier: grantId,
        messageId: message.id,
        requestBody: { starred: true },
      });
      assert.equal(starred.data.starred, true);
      const updated = await receiver.waitFor('message.updated', (o) => o.id === message.id && o.starred === true);
      checkSigned(updated, 'message.updated', secondSecret, [firstSecret]);
      assert.equal(updated.body.data.object.subject, subject);

      const createdForIt = receiver.posts.filter((p) => p.body.type === 'message.created' && p.body.data?.object?.subject === subject);
      assert.equal(createdForIt.length, 1, `announced once: ${JSON.stringify(receiver.summary())}`);
      const ids = receiver.posts.map((p) => p.body.id);
      assert.equal(new Set(ids).size, ids.length, `notification ids repeat: ${ids}`);
      for (const post of receiver.posts) {
        assert.ok(['message.created', 'message.updated'].includes(post.body.type), `not subscribed: ${post.body.type}`);
      }
    });
  });

  it('announces a real bounce once, matched to the message sent', async () => {
    const s = await suite();
    const { nylas, raw } = s.newApp('bounces');
    await nylas.connectors.create({ requestBody: { provider: 'imap' } });
    await withReceiver(nylas, async (receiver) => {
      const hook = (
        await nylas.webhooks.create({ requestBody: { triggerTypes: ['message.bounce_detected'], webhookUrl: receiver.url } })
      ).data;
      const grant = await nylas.auth.customAuthentication({
        requestBody: {
          provider: 'imap',
          settings: {
            imap_username: email(USER),
            imap_password: password(USER),
            imap_host: 'localhost',
            imap_port: Number(s.testbed.TESTBED_IMAP_PORT),
            smtp_host: 'localhost',
            smtp_port: Number(s.testbed.TESTBED_SUBMISSION_PORT),
          },
        },
      });
      const grantId = grant.data.id;
      await until("the grant's first sync pass", async () => {
        const reply = await raw('GET', `/v3/grants/${encodeURIComponent(grantId)}`);
        return [reply.status === 200 && reply.json?.data?.sync_state === 'running', `${reply.status} ${reply.text}`];
      });
      // Accepted at submission, refused with 550 5.1.1 by the next hop: Postfix returns an
      // RFC 3464 report to user47's Inbox (testbed/README.md, "Bounces").
      const nowhere = `nobody-${tag()}@bounces.example.test`;
      const sent = await nylas.messages.send({
        identifier: grantId,
        requestBody: { to: [{ email: nowhere }], subject: `Returned ${tag()}`, body: 'This one comes back.' },
      });
      const bounce = await receiver.waitFor('message.bounce_detected', (o) => o.object?.bounced_addresses === nowhere);
      assert.equal(bounce.signature, signatureOf(hook.webhookSecret, bounce.raw));
      const details = bounce.body.data.object.object;
      assert.equal(bounce.body.data.object.grant_id, grantId);
      assert.equal(details.type, 'mailbox_unavailable');
      assert.equal(details.code, '550');
      assert.equal(details.message_id, sent.data.id);
      assert.equal(details.origin.id, sent.data.id);
      assert.equal(details.origin.subject, sent.data.subject);
      assert.deepEqual(details.origin.to, [nowhere]);
      assert.match(details.bounce_reason, /User unknown/);
      const forIt = receiver.posts.filter((p) => p.body.data?.object?.object?.message_id === sent.data.id);
      assert.equal(forIt.length, 1, `announced once: ${JSON.stringify(receiver.summary())}`);
    });
  });
  it('announces an open and a click on a tracked message read back from the Inbox', async () => {
    const s = await suite();
    const { nylas, raw } = s.newApp('tracking');
    await nylas.connectors.create({ requestBody: { provider: 'imap' } });
    await withReceiver(nylas, async (receiver) => {
      const hook = (
        await nylas.webhooks.create({
          requestBody: { triggerTypes: ['message.opened', 'message.link_clicked'], webhookUrl: receiver.url },
        })
      ).data;
      const grant = await nylas.auth.customAuthentication({
        requestBody: {
          provider: 'imap',
          settings: {
            imap_username: email(USER),
            imap_password: password(USER),
            imap_host: 'localhost',
            imap_port: Number(s.testbed.TESTBED_IMAP_PORT),
            smtp_host: 'localhost',
            smtp_port: Number(s.testbed.TESTBED_SUBMISSION_PORT),
          },
        },
      });
      const grantId = grant.data.id;
      await until("the grant's first sync pass", async () => {
        const reply = await raw('GET', `/v3/grants/${encodeURIComponent(grantId)}`);
        return [reply.status === 200 && reply.json?.data?.sync_state === 'running', `${reply.status} ${reply.text}`];
      });
      const mark = tag();
      const offer = `https://shop.example.com/spring?c=${mark}&utm=mail`;
      const subject = `Tracked ${mark}`;
      const sent = await nylas.messages.send({
        identifier: grantId,
        requestBody: {
          to: [{ email: email(USER) }],
          subject,
          body: `<p>New: <a href="${offer.replace('&', '&amp;')}">the spring range</a></p>`,
          trackingOptions: { opens: true, links: true, label: `spring ${mark}` },
        },
      });
      const inbox = (await nylas.folders.list({ identifier: grantId })).data.find((f) => f.name === 'INBOX');
      const delivered = await until('the tracked message in the Inbox', async () => {
        const listed = await nylas.messages.list({ identifier: grantId, queryParams: { in: [inbox.id], subject } });
        return [listed.data.length === 1, listed.data];
      });
      const body = (await nylas.messages.find({ identifier: grantId, messageId: delivered[0].id })).data.body;
      const base = s.server.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const image = body.match(new RegExp(`<img src="(${base}/v3/tracking/[A-Za-z0-9_-]+/open\\.gif)"`));
      const link = body.match(new RegExp(`href="(${base}/v3/tracking/[A-Za-z0-9_-]+/links/0)"`));
      assert.ok(image && link, body);
      assert.ok(!body.includes(offer), body);

      const loaded = await fetch(image[1], { headers: { 'User-Agent': `AppleMail ${mark}` } });
      assert.equal(loaded.status, 200);
      assert.equal(loaded.headers.get('content-type'), 'image/gif');
      assert.equal(Buffer.from(await loaded.arrayBuffer()).subarray(0, 6).toString(), 'GIF89a');
      const followed = await fetch(link[1], { redirect: 'manual', headers: { 'User-Agent': `Chrome ${mark}` } });
      assert.equal(followed.status, 302);
      assert.equal(followed.headers.get('location'), offer);

      const ours = (o) => o.message_id === sent.data.id;
      const opened = await receiver.waitFor('message.opened', ours);
      assert.equal(opened.signature, signatureOf(hook.webhookSecret, opened.raw));
      assert.equal(opened.body.source, '/com/nylas/tracking');
      const open = opened.body.data.object;
      assert.equal(open.object, 'message');
      assert.equal(open.grant_id, grantId);
      assert.equal(open.label, `spring ${mark}`);
      assert.equal(open.message_data.count, 1);
      assert.deepEqual(
        open.recents.map((r) => [r.opened_id, r.ip, r.user_agent]),
        [[1, '127.0.0.0', `AppleMail ${mark}`]],
      );
      const clicked = await receiver.waitFor('message.link_clicked', ours);
      assert.equal(clicked.signature, signatureOf(hook.webhookSecret, clicked.raw));
      const click = clicked.body.data.object;
      assert.deepEqual(click.link_data, [{ url: offer, count: 1 }]);
      assert.deepEqual(
        click.recents.map((r) => [r.click_id, r.link_index, r.user_agent]),
        [[1, '0', `Chrome ${mark}`]],
      );
      const forIt = receiver.posts.filter((p) => p.body.data?.object?.message_id === sent.data.id);
      assert.equal(forIt.length, 2, `one open and one click: ${JSON.stringify(receiver.summary())}`);
    });
  });
});
