// v2's delta feed through the Nylas Node SDK 6.8.0, unchanged, on a signed-in account:
// `deltas.latestCursor()` (POST /delta/latest_cursor), a change made through the API (a star
// by `message.save()`) and one arriving in the mailbox (an IMAP APPEND), `deltas.since(cursor)`
// (GET /delta) showing them as the SDK's models, and `deltas.longPoll(cursor, timeout)` (GET
// /delta/longpoll; the SDK emits the answer as a `delta` event of Deltas) answering once a
// change arrives after it started. Testbed user78.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';

import Delta from 'nylas/lib/models/delta.js';
import { Deltas } from 'nylas/lib/models/deltas.js';
import Message from 'nylas/lib/models/message.js';

import { imapAppend, listed, rfc822, sdk, sharedSuite, signedIn, waitUntil } from './helper.js';

const suite = sharedSuite('delta');
const LONGPOLL_SECS = 60;

const messageDeltas = (page, id, event) =>
  page.deltas.filter((d) => d.object === 'message' && (id === undefined || d.id === id) && (event === undefined || d.event === event));

/** One long poll from `cursor`: the Deltas the SDK emits, or its error. */
async function longPollOnce(client, cursor) {
  const stream = await sdk('delta.longPoll (GET /delta/longpoll)', client.deltas.longPoll(cursor, LONGPOLL_SECS));
  try {
    return await new Promise((resolve, reject) => {
      stream.on('delta', resolve);
      stream.on('error', (e) => reject(new Error(`longPoll: ${JSON.stringify(e)}`)));
    });
  } finally {
    stream.close();
  }
}

test('latestCursor, since and longPoll', async () => {
  const s = await suite();
  await s.newApp();
  const tag = randomUUID().slice(0, 10);
  imapAppend(s.testbed, [{ raw: rfc822({ subject: `${tag} before` }) }]);
  const { client, token } = await signedIn(s.testbed);
  const [message] = await listed(client.messages, 'the message made before the cursor', 1, { subject: `${tag} before` });
  const cursor = await sdk('delta.latestCursor', client.deltas.latestCursor());
  assert.equal(typeof cursor, 'string');
  assert.ok(cursor);

  // A change through the API: the star shows as the message's modify delta.
  message.starred = true;
  await sdk('message.save', message.save());
  let page;
  await waitUntil('the star in /delta', async () => {
    page = await sdk('delta.since (GET /delta)', client.deltas.since(cursor));
    const found = messageDeltas(page, message.id, 'modify').filter((d) => d.objectAttributes?.starred);
    return [found.length > 0, page.deltas.map((d) => [d.object, d.event, d.id])];
  });
  assert.ok(page instanceof Deltas);
  assert.equal(page.cursorStart, cursor);
  assert.notEqual(page.cursorEnd, cursor);
  const [delta] = messageDeltas(page, message.id, 'modify').filter((d) => d.objectAttributes?.starred);
  assert.ok(delta instanceof Delta.default);
  assert.equal(typeof delta.cursor, 'string');
  assert.ok(delta.objectAttributes instanceof Message.default);
  assert.equal(delta.objectAttributes.subject, `${tag} before`);
  assert.equal(delta.objectAttributes.accountId, token.accountId);
  assert.equal(messageDeltas(page, message.id, 'create').length, 0, 'nothing from before the cursor');
  const noMessages = await sdk('delta.since excludeTypes', client.deltas.since(cursor, { excludeTypes: ['message'] }));
  assert.equal(messageDeltas(noMessages, undefined).length, 0);

  // longPoll from the end of the feed: it answers once a new message arrives. Other changes
  // (the star's thread) may come first; poll on from where they end.
  const subject = `${tag} during longpoll`;
  let from = page.cursorEnd;
  const first = longPollOnce(client, from);
  imapAppend(s.testbed, [{ raw: rfc822({ subject }) }]);
  let answer = await first;
  const deadline = Date.now() + 2 * LONGPOLL_SECS * 1000;
  for (;;) {
    assert.ok(answer instanceof Deltas, String(answer));
    if (messageDeltas(answer).some((d) => d.objectAttributes?.subject === subject)) break;
    assert.ok(Date.now() < deadline, `no delta for ${subject}: ${JSON.stringify(answer.deltas.map((d) => [d.object, d.event]))}`);
    from = answer.cursorEnd;
    answer = await longPollOnce(client, from);
  }
  const [created] = messageDeltas(answer).filter((d) => d.objectAttributes?.subject === subject);
  assert.equal(created.event, 'create');
  assert.ok(created.objectAttributes instanceof Message.default);
  assert.equal(created.objectAttributes.unread, true);
  await listed(client.messages, 'the message that arrived during the long poll', 1, { subject });
});
