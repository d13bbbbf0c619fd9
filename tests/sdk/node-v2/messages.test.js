// v2 messages through the Nylas Node SDK 6.8.0, unchanged, on a signed-in account:
// `messages.list({...})` with v2's filters and paging, `messages.count()` (view=count),
// `messages.find(id)`, the raw MIME (`message.getRaw()`, `messages.findRaw(id)`: Accept:
// message/rfc822), and `message.save()` (PUT /messages/{id} with `unread`, `starred`,
// `folder_id`) checked in Dovecot with a second IMAP client. Each test APPENDs messages of
// its own (addresses and subjects carry a random tag). Testbed user78.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';

import Folder from 'nylas/lib/models/folder.js';
import Message from 'nylas/lib/models/message.js';

import {
  EMAIL,
  imapAppend,
  imapCount,
  imapFind,
  listed,
  rejectsWithApiError,
  rfc822,
  sdk,
  sharedSuite,
  signedIn,
  waitUntil,
} from './helper.js';

const suite = sharedSuite('messages');
const HOUR = 3600_000;

test('list with filters, paging, count, find and raw MIME', async () => {
  const s = await suite();
  await s.newApp();
  const tag = randomUUID().slice(0, 10);
  const alice = `alice-${tag}@example.test`;
  const bob = `bob-${tag}@example.test`;
  const carol = `carol-${tag}@example.test`;
  const now = Math.floor(Date.now() / 1000) * 1000;
  const at = (hours) => new Date(now - hours * HOUR);
  const betaId = `<beta-${tag}@example.test>`;
  const subjects = { alpha: `${tag} alpha`, beta: `${tag} beta`, gamma: `Re: ${tag} beta`, delta: `${tag} delta` };
  imapAppend(s.testbed, [
    { raw: rfc822({ subject: subjects.alpha, from: `Alice <${alice}>`, date: at(4) }), flags: ['\\Seen'], date: at(4) },
    { raw: rfc822({ subject: subjects.beta, from: `Bob <${bob}>`, to: `Carol <${carol}>`, date: at(3), messageId: betaId }), flags: ['\\Seen', '\\Flagged'], date: at(3) },
    { raw: rfc822({ subject: subjects.gamma, from: `Bob <${bob}>`, to: `Carol <${carol}>`, date: at(2), inReplyTo: betaId }), date: at(2) },
    { raw: rfc822({ subject: subjects.delta, from: `Alice <${alice}>`, date: at(1) }), folder: 'Archive', flags: ['\\Seen'], date: at(1) },
  ]);
  const { client, token } = await signedIn(s.testbed);
  const both = `${alice},${bob}`;
  const all = await listed(client.messages, 'the four seeded messages', 4, { any_email: both });
  assert.ok(all.every((m) => m instanceof Message.default));
  // Newest first.
  assert.deepEqual(all.map((m) => m.subject), [subjects.delta, subjects.gamma, subjects.beta, subjects.alpha]);
  const [delta, gamma, beta, alpha] = all;
  assert.equal(alpha.object, 'message');
  assert.equal(alpha.accountId, token.accountId);
  assert.deepEqual(alpha.from.map((p) => [p.name, p.email]), [['Alice', alice]]);
  assert.equal(alpha.date.getTime(), at(4).getTime());
  assert.deepEqual([alpha.unread, beta.starred, gamma.unread, gamma.starred], [false, true, true, false]);
  assert.ok(alpha.folder instanceof Folder.default);
  assert.deepEqual([alpha.folder.name, alpha.folder.displayName], ['inbox', 'INBOX']);
  assert.equal(delta.folder.name, 'archive');

  const subjectsOf = async (params) =>
    new Set((await sdk(`messages.list ${JSON.stringify(params)}`, client.messages.list(params))).map((m) => m.subject));
  const set = (...names) => new Set(names.map((n) => subjects[n]));
  assert.deepEqual(await subjectsOf({ subject: subjects.alpha }), set('alpha'));
  assert.deepEqual(await subjectsOf({ from: bob }), set('beta', 'gamma'));
  assert.deepEqual(await subjectsOf({ to: carol }), set('beta', 'gamma'));
  assert.deepEqual(await subjectsOf({ any_email: both, in: 'inbox' }), set('alpha', 'beta', 'gamma'));
  assert.deepEqual(await subjectsOf({ any_email: both, in: 'Archive' }), set('delta'));
  assert.deepEqual(await subjectsOf({ any_email: both, in: delta.folder.id }), set('delta'));
  assert.deepEqual(await subjectsOf({ any_email: both, unread: true }), set('gamma'));
  assert.deepEqual(await subjectsOf({ any_email: both, starred: true }), set('beta'));
  const middle = Math.floor((now - 2.5 * HOUR) / 1000);
  assert.deepEqual(await subjectsOf({ any_email: both, received_after: middle }), set('gamma', 'delta'));
  assert.deepEqual(await subjectsOf({ any_email: both, received_before: middle }), set('alpha', 'beta'));
  assert.equal(gamma.threadId, beta.threadId);
  assert.notEqual(alpha.threadId, beta.threadId);
  assert.deepEqual(await subjectsOf({ thread_id: beta.threadId }), set('beta', 'gamma'));

  // limit and offset page the same order; count() is view=count.
  const page = await sdk('messages.list (offset, limit)', client.messages.list({ any_email: both, offset: 1, limit: 2 }));
  assert.deepEqual(page.map((m) => m.subject), [subjects.gamma, subjects.beta]);
  assert.equal(await sdk('messages.count', client.messages.count({ any_email: both })), 4);
  assert.equal(await sdk('messages.count', client.messages.count({ from: bob })), 2);
  const ids = await sdk('messages.list view=ids', client.messages.list({ any_email: both, view: 'ids' }));
  assert.deepEqual(ids, all.map((m) => m.id));

  const found = await sdk('messages.find', client.messages.find(gamma.id));
  assert.ok(found instanceof Message.default);
  assert.equal(found.subject, subjects.gamma);
  assert.match(found.body, /A message for the v2 Node SDK suite\./);
  const expanded = await sdk('messages.find view=expanded', client.messages.find(gamma.id, { view: 'expanded' }));
  assert.equal(expanded.headers['In-Reply-To'], betaId);
  await rejectsWithApiError(client.messages.find('no-such-message'), 404);

  // Raw MIME, from the model and from the collection.
  const raw = await sdk('message.getRaw', found.getRaw());
  assert.equal(typeof raw, 'string');
  assert.match(raw, new RegExp(`^Subject: ${subjects.gamma}\\r?$`, 'm'));
  assert.match(raw, new RegExp(`^In-Reply-To: ${betaId}\\r?$`, 'm'));
  assert.equal(await sdk('messages.findRaw', client.messages.findRaw(gamma.id)), raw);
});

test('message.save() changes unread, starred and the folder, seen in Dovecot', async () => {
  const s = await suite();
  await s.newApp();
  const subject = `${randomUUID().slice(0, 10)} flags`;
  imapAppend(s.testbed, [{ raw: rfc822({ subject }) }]);
  const { client } = await signedIn(s.testbed);
  const [message] = await listed(client.messages, subject, 1, { subject });
  assert.deepEqual([message.unread, message.starred, message.folder.name], [true, false, 'inbox']);

  // save() sends unread, starred and folder_id (the folder shown: nothing moves).
  message.unread = false;
  message.starred = true;
  await sdk('message.save (PUT /messages/{id})', message.save());
  assert.deepEqual([message.unread, message.starred], [false, true]);
  await waitUntil('\\Seen and \\Flagged in INBOX', async () => {
    const found = imapFind(s.testbed, 'INBOX', subject);
    return [found.length === 1 && found[0].includes('\\Seen') && found[0].includes('\\Flagged'), found];
  });
  const fresh = await sdk('messages.find', client.messages.find(message.id));
  assert.deepEqual([fresh.unread, fresh.starred], [false, true]);

  // A folder of its own: the message moves to Archive.
  const folders = await sdk('folders.list', client.folders.list());
  const archive = folders.find((f) => f.name === 'archive');
  assert.ok(archive, JSON.stringify(folders.map((f) => f.name)));
  fresh.folder = archive;
  fresh.unread = true;
  await sdk('message.save (folder)', fresh.save());
  assert.equal(fresh.folder.id, archive.id);
  await imapCount(s.testbed, 'Archive', subject, 1);
  await imapCount(s.testbed, 'INBOX', subject, 0);
  const flags = imapFind(s.testbed, 'Archive', subject)[0];
  assert.ok(!flags.includes('\\Seen') && flags.includes('\\Flagged'), JSON.stringify(flags));
  const moved = await sdk('messages.find', client.messages.find(message.id));
  assert.deepEqual([moved.folder.id, moved.unread, moved.starred], [archive.id, true, true]);
  assert.equal(moved.from[0].email, 'sender@example.test');
  assert.equal(moved.to[0].email, EMAIL);
});
