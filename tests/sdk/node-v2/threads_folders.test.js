// v2 threads and folders through the Nylas Node SDK 6.8.0, unchanged, on a signed-in
// account: `threads.list({...})` with the messages' filters (`unread` and `starred`
// describe the thread), `threads.find(id)`, `view: 'expanded'` (the thread's messages as
// Message models), `threads.count()`; `folders.list()` and `folders.find(id)` (folder
// changes are not tested here). Testbed user78.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';

import Folder from 'nylas/lib/models/folder.js';
import Message from 'nylas/lib/models/message.js';
import Thread from 'nylas/lib/models/thread.js';

import { imapAppend, listed, rejectsWithApiError, rfc822, sdk, sharedSuite, signedIn, waitUntil } from './helper.js';

const suite = sharedSuite('threads-folders');
const HOUR = 3600_000;

test('threads: filters, find, count and view=expanded', async () => {
  const s = await suite();
  await s.newApp();
  const tag = randomUUID().slice(0, 10);
  const dana = `dana-${tag}@example.test`;
  const erin = `erin-${tag}@example.test`;
  const now = Math.floor(Date.now() / 1000) * 1000;
  const at = (hours) => new Date(now - hours * HOUR);
  const firstId = `<talk-${tag}@example.test>`;
  imapAppend(s.testbed, [
    { raw: rfc822({ subject: `${tag} talk`, from: `Dana <${dana}>`, date: at(3), messageId: firstId }), flags: ['\\Seen'], date: at(3) },
    { raw: rfc822({ subject: `Re: ${tag} talk`, from: `Erin <${erin}>`, to: `Dana <${dana}>`, date: at(2), inReplyTo: firstId }), flags: ['\\Flagged'], date: at(2) },
    { raw: rfc822({ subject: `${tag} alone`, from: `Dana <${dana}>`, date: at(1) }), flags: ['\\Seen'], date: at(1) },
  ]);
  const { client, token } = await signedIn(s.testbed);
  await listed(client.messages, 'the three seeded messages', 3, { any_email: `${dana},${erin}` });

  const threads = await sdk('threads.list', client.threads.list({ any_email: dana }));
  assert.ok(threads.every((t) => t instanceof Thread.default));
  assert.deepEqual(threads.map((t) => t.subject), [`${tag} alone`, `${tag} talk`]);
  const [alone, talk] = threads;
  assert.equal(talk.object, 'thread');
  assert.equal(talk.accountId, token.accountId);
  assert.equal(talk.messageIds.length, 2);
  assert.deepEqual([talk.unread, talk.starred, alone.unread, alone.starred], [true, true, false, false]);
  assert.ok(talk.participants.some((p) => p.email === erin));
  assert.ok(talk.lastMessageTimestamp > talk.firstMessageTimestamp);
  assert.deepEqual(talk.folders.map((f) => f.name), ['inbox']);

  const ids = async (params) => (await sdk(`threads.list ${JSON.stringify(params)}`, client.threads.list(params))).map((t) => t.id);
  assert.deepEqual(await ids({ from: erin }), [talk.id]);
  assert.deepEqual(await ids({ any_email: dana, unread: true }), [talk.id]);
  assert.deepEqual(await ids({ any_email: dana, starred: false }), [alone.id]);
  assert.deepEqual(await ids({ subject: `${tag} alone` }), [alone.id]);
  assert.deepEqual(await ids({ any_email: dana, in: 'inbox', limit: 1 }), [alone.id]);
  assert.deepEqual(await ids({ any_email: dana, offset: 1 }), [talk.id]);
  assert.equal(await sdk('threads.count', client.threads.count({ any_email: dana })), 2);

  const found = await sdk('threads.find', client.threads.find(talk.id));
  assert.ok(found instanceof Thread.default);
  assert.deepEqual([...found.messageIds].sort(), [...talk.messageIds].sort());
  await rejectsWithApiError(client.threads.find('no-such-thread'), 404);

  // view=expanded: the messages come with the thread, as Message models without bodies.
  const expanded = await sdk('threads.find view=expanded', client.threads.find(talk.id, { view: 'expanded' }));
  assert.ok(expanded.messages.every((m) => m instanceof Message.default));
  assert.deepEqual(expanded.messages.map((m) => m.id).sort(), [...talk.messageIds].sort());
  assert.deepEqual(new Set(expanded.messages.map((m) => m.subject)), new Set([`${tag} talk`, `Re: ${tag} talk`]));
  assert.ok(expanded.messages.every((m) => m.body === undefined));
  const listedExpanded = await sdk('threads.list view=expanded', client.threads.list({ any_email: dana, view: 'expanded' }));
  assert.deepEqual(listedExpanded.map((t) => t.messages.length), [1, 2]);
});

test('folders: list and find', async () => {
  const s = await suite();
  await s.newApp();
  const { client, token } = await signedIn(s.testbed);
  const wanted = ['inbox', 'sent', 'drafts', 'trash', 'spam', 'archive'];
  // `name` is the role (RFC 6154 special use), `displayName` the folder's name.
  const folders = await waitUntil("the testbed's six folders with their roles", async () => {
    const all = await sdk('folders.list', client.folders.list());
    return [wanted.every((role) => all.some((f) => f.name === role)), all.map((f) => f.name)];
  }).then(() => client.folders.list());
  assert.ok(folders.every((f) => f instanceof Folder.default && f.object === 'folder' && f.accountId === token.accountId));
  const byRole = Object.fromEntries(folders.filter((f) => f.name).map((f) => [f.name, f]));
  assert.equal(byRole.inbox.displayName, 'INBOX');
  assert.equal(byRole.archive.displayName, 'Archive');
  const sent = await sdk('folders.find', client.folders.find(byRole.sent.id));
  assert.ok(sent instanceof Folder.default);
  assert.deepEqual([sent.id, sent.name, sent.displayName], [byRole.sent.id, 'sent', 'Sent']);
  assert.equal(await sdk('folders.count', client.folders.count()), folders.length);
  await rejectsWithApiError(client.folders.find('no-such-folder'), 404);
});
