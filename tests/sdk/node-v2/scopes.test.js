// Granular scopes (seed 004) through the Nylas Node SDK 6.8.0: what a v2 token may read.
// These are resource checks: besides v2 authentication they need the server's v2 resource
// routes (GET /messages, GET /threads) and its scope enforcement. Testbed user78.

import assert from 'node:assert/strict';
import test from 'node:test';

import Nylas from 'nylas';

import {
  EMAIL,
  account as accountOf,
  hostedAuth,
  nativeAuth,
  scopeRefusal,
  sdk,
  sharedSuite,
  waitUntil,
} from './helper.js';

const suite = sharedSuite('scopes');

test('a read-only token lists the messages and threads', async () => {
  const s = await suite();
  await s.newApp();
  const token = await hostedAuth(s.testbed, ['email.read_only', 'email.send']);
  const client = Nylas.with(token.accessToken);
  const messages = await waitUntil(`GET /messages to list ${s.subject}`, async () => {
    const found = await sdk('messages.list (GET /messages)', client.messages.list({ subject: s.subject }));
    return [found.some((m) => m.subject === s.subject), found];
  });
  const message = messages.find((m) => m.subject === s.subject);
  assert.equal(message.object, 'message');
  assert.equal(message.accountId, token.accountId);
  const threads = await sdk('threads.list (GET /threads)', client.threads.list({ subject: s.subject }));
  const thread = threads.find((t) => t.subject === s.subject);
  assert.ok(thread, JSON.stringify(threads));
  assert.equal(thread.object, 'thread');
  assert.ok(thread.messageIds.includes(message.id), JSON.stringify(thread));
});

test('a send-only token cannot read messages', async () => {
  const s = await suite();
  await s.newApp();
  const account = await nativeAuth(s.testbed, ['email.send']);
  assert.equal((await accountOf(account.accessToken)).emailAddress, EMAIL);
  const needed = await scopeRefusal(Nylas.with(account.accessToken).messages.list(), ['email.send']);
  assert.ok(needed.includes('email.read_only') || needed.includes('email.modify'), JSON.stringify(needed));
});

test('a calendar-only token cannot read messages or threads', async () => {
  const s = await suite();
  await s.newApp();
  const account = await nativeAuth(s.testbed, ['calendar']);
  assert.equal((await accountOf(account.accessToken)).emailAddress, EMAIL);
  const client = Nylas.with(account.accessToken);
  for (const collection of [client.messages, client.threads]) {
    const needed = await scopeRefusal(collection.list(), ['calendar']);
    assert.ok(needed.every((scope) => scope.startsWith('email')), JSON.stringify(needed));
  }
});
