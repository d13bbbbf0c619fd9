// v2 sending and drafts through the Nylas Node SDK 6.8.0, unchanged, on a signed-in account.
// Sending: `drafts.build({...}).send()` without saving (POST /send, v2's JSON) and a draft
// built with `rawMime` (POST /send as message/rfc822). Drafts: `save()` creates (POST
// /drafts, version 0) and updates (PUT /drafts/{id}, the version moves on); a save or send
// naming a stale version rejects with 409 and v2's error; `send()` of a saved draft is POST
// /send {draft_id, version}; `drafts.delete(draft)` sends the version. Everything is sent to
// user78 itself and awaited in its INBOX, with a deadline. Testbed user78.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';

import Draft from 'nylas/lib/models/draft.js';
import Message from 'nylas/lib/models/message.js';

import { EMAIL, imapCount, listed, rejectsWithApiError, sdk, sharedSuite, signedIn } from './helper.js';

const suite = sharedSuite('send-drafts');

test('send a composed draft and raw MIME', async () => {
  const s = await suite();
  await s.newApp();
  const tag = randomUUID().slice(0, 10);
  const { client, token } = await signedIn(s.testbed);

  const draft = client.drafts.build({ to: [{ name: 'Me', email: EMAIL }], subject: `${tag} composed`, body: '<p>Sent by the v2 Node SDK.</p>' });
  const sent = await sdk('draft.send (POST /send)', draft.send());
  assert.ok(sent instanceof Message.default);
  assert.equal(sent.subject, `${tag} composed`);
  assert.equal(sent.accountId, token.accountId);
  assert.deepEqual(sent.to.map((p) => [p.name, p.email]), [['Me', EMAIL]]);
  const [arrived] = await listed(client.messages, 'the composed message in INBOX', 1, { subject: `${tag} composed`, in: 'inbox' });
  assert.equal(arrived.from[0].email, EMAIL);
  await listed(client.messages, 'the composed message in Sent', 1, { subject: `${tag} composed`, in: 'sent' });
  const body = (await sdk('messages.find', client.messages.find(arrived.id))).body;
  assert.match(body, /Sent by the v2 Node SDK\./);

  const rawMime = [
    `From: Me <${EMAIL}>`,
    `To: ${EMAIL}`,
    `Subject: ${tag} raw`,
    `Message-ID: <${tag}-raw@example.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Raw MIME from the v2 Node SDK.',
    '',
  ].join('\r\n');
  const rawSent = await sdk('raw draft.send (POST /send, message/rfc822)', client.drafts.build({ rawMime }).send());
  assert.equal(rawSent.subject, `${tag} raw`);
  const [rawArrived] = await listed(client.messages, 'the raw message in INBOX', 1, { subject: `${tag} raw`, in: 'inbox' });
  assert.match((await sdk('messages.find', client.messages.find(rawArrived.id))).body, /Raw MIME from the v2 Node SDK\./);
});

test('drafts: save, version, a stale version refused, send and delete', async () => {
  const s = await suite();
  await s.newApp();
  const tag = randomUUID().slice(0, 10);
  const { client } = await signedIn(s.testbed);

  const draft = client.drafts.build({ to: [{ email: EMAIL }], subject: `${tag} draft`, body: '<p>first</p>' });
  await sdk('draft.save (POST /drafts)', draft.save());
  assert.ok(draft instanceof Draft.default);
  assert.ok(draft.id);
  assert.equal(draft.object, 'draft');
  assert.equal(draft.version, 0);
  await imapCount(s.testbed, 'Drafts', `${tag} draft`, 1);

  const stale = await sdk('drafts.find', client.drafts.find(draft.id));
  assert.equal(stale.version, 0);
  draft.subject = `${tag} draft v1`;
  draft.body = '<p>second</p>';
  await sdk('draft.save (PUT /drafts/{id})', draft.save());
  assert.equal(draft.version, 1);
  const current = await sdk('drafts.find', client.drafts.find(draft.id));
  assert.deepEqual([current.subject, current.version], [`${tag} draft v1`, 1]);
  assert.match(current.body, /second/);

  // The copy read at version 0 can neither save nor send over version 1.
  stale.subject = `${tag} overwritten`;
  const conflict = await rejectsWithApiError(stale.save(), 409);
  assert.match(conflict.message, /version/);
  await rejectsWithApiError(stale.send(), 409);
  assert.equal((await sdk('drafts.find', client.drafts.find(draft.id))).subject, `${tag} draft v1`);

  // send() of the saved draft at its version: it goes out and leaves Drafts.
  const sent = await sdk('draft.send (draft_id, version)', draft.send());
  assert.equal(sent.subject, `${tag} draft v1`);
  await listed(client.messages, 'the sent draft in INBOX', 1, { subject: `${tag} draft v1`, in: 'inbox' });
  await rejectsWithApiError(client.drafts.find(draft.id), 404);

  // drafts.delete(draft) sends {version}; the draft is gone from the API and from Dovecot.
  const doomed = client.drafts.build({ to: [{ email: EMAIL }], subject: `${tag} doomed` });
  await sdk('draft.save', doomed.save());
  await imapCount(s.testbed, 'Drafts', `${tag} doomed`, 1);
  await sdk('drafts.delete (DELETE /drafts/{id})', client.drafts.delete(doomed));
  await rejectsWithApiError(client.drafts.find(doomed.id), 404);
  await imapCount(s.testbed, 'Drafts', `${tag} doomed`, 0);
});
