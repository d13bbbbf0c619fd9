// Single resources through the official Node SDK: grants, folders, messages, attachments,
// and the SDK's typed error for a 404.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { NylasApiError } from 'nylas';

import { EMAIL } from './corpus.js';
import { sharedSuite } from './helper.js';

const suite = sharedSuite('resources');

async function inboxFolder() {
  const { nylas, grantId } = await suite();
  const folders = await nylas.folders.list({ identifier: grantId });
  const inbox = folders.data.find((f) => (f.attributes ?? []).includes('\\Inbox'));
  assert.ok(inbox, `no folder with \\Inbox among ${JSON.stringify(folders.data)}`);
  return inbox;
}

/** The one message with this exact subject, found through the SDK's subject filter. */
async function messageBySubject(subject) {
  const { nylas, grantId } = await suite();
  const found = await nylas.messages.list({
    identifier: grantId,
    queryParams: { subject, limit: 10 },
  });
  const exact = found.data.filter((m) => m.subject === subject);
  assert.equal(exact.length, 1, `messages with subject ${JSON.stringify(subject)}: ${exact.length}`);
  return exact[0];
}

async function corpusMessage(key) {
  const { corpus } = await suite();
  const c = corpus.messages.find((m) => m.key === key);
  assert.ok(c, `no corpus message ${key}`);
  return c;
}

/** Rejects with the SDK's NylasApiError carrying this status and the type of docs/API.md §1.6. */
async function assertApiError(promise, statusCode, type) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof NylasApiError, `expected NylasApiError, got ${error?.constructor?.name}: ${error}`);
    assert.equal(error.statusCode, statusCode);
    assert.equal(error.type, type);
    assert.equal(typeof error.message, 'string');
    assert.ok(error.message.length > 0, 'the error has a message');
    assert.ok(error.requestId, 'the requestId comes from the x-request-id header');
    return true;
  });
}

describe('grants', () => {
  it('grants.find returns the grant with its email, provider and status', async () => {
    const { nylas, grantId } = await suite();
    const response = await nylas.grants.find({ grantId });
    assert.equal(typeof response.requestId, 'string');
    assert.equal(response.data.id, grantId);
    assert.equal(response.data.email, EMAIL);
    assert.equal(response.data.provider, 'imap');
    assert.equal(response.data.grantStatus, 'valid');
    assert.ok(Number.isInteger(response.data.createdAt), `createdAt ${response.data.createdAt}`);
    assert.ok(!JSON.stringify(response.data).includes('pass8'), 'the grant must not echo the password');
  });

  it('grants.list finds the grant by email', async () => {
    const { nylas, grantId } = await suite();
    const response = await nylas.grants.list({ queryParams: { email: EMAIL } });
    assert.deepEqual(
      response.data.map((g) => g.id),
      [grantId],
    );
  });

  it('grants.find of an unknown grant rejects with a 404 NylasApiError', async () => {
    const { nylas } = await suite();
    await assertApiError(
      nylas.grants.find({ grantId: '00000000-0000-4000-8000-000000000000' }),
      404,
      'api.not_found_error',
    );
  });
});

describe('folders', () => {
  it('folders.list includes INBOX with total_count and unread_count of the seeded mail', async () => {
    const { nylas, corpus, grantId } = await suite();
    const inbox = await inboxFolder();
    assert.equal(inbox.grantId, grantId);
    assert.equal(inbox.object, 'folder');
    assert.equal(inbox.name, 'INBOX');
    assert.equal(inbox.systemFolder, true);
    assert.equal(inbox.totalCount, corpus.inboxTotal);
    assert.equal(inbox.unreadCount, corpus.inboxUnread);
    assert.match(inbox.id, /^[A-Za-z0-9_-]+$/, 'folder ids are URL-safe');

    const folders = await nylas.folders.list({ identifier: grantId });
    const sent = folders.data.find((f) => (f.attributes ?? []).includes('\\Sent'));
    assert.ok(sent, 'a folder with \\Sent');
    assert.equal(sent.totalCount, corpus.messages.filter((m) => m.folder === 'Sent').length);
    const sum = folders.data.reduce((n, f) => n + (f.totalCount ?? 0), 0);
    assert.equal(sum, corpus.total, 'the folders hold every seeded message once');
  });

  it('folders.find returns INBOX with the same counts', async () => {
    const { nylas, grantId, corpus } = await suite();
    const inbox = await inboxFolder();
    const found = await nylas.folders.find({ identifier: grantId, folderId: inbox.id });
    assert.equal(found.data.id, inbox.id);
    assert.equal(found.data.totalCount, corpus.inboxTotal);
    assert.equal(found.data.unreadCount, corpus.inboxUnread);
  });
});

describe('messages', () => {
  it('messages.find gives body, snippet, folders, flags and attachment metadata', async () => {
    const { nylas, grantId } = await suite();
    const seeded = await corpusMessage('files');
    const inbox = await inboxFolder();
    const listed = await messageBySubject(seeded.subject);

    const { data: m, requestId } = await nylas.messages.find({ identifier: grantId, messageId: listed.id });
    assert.equal(typeof requestId, 'string');
    assert.equal(m.id, listed.id);
    assert.equal(m.grantId, grantId);
    assert.equal(m.object, 'message');
    assert.equal(m.subject, seeded.subject);
    assert.equal(m.date, seeded.date);
    assert.deepEqual(m.from, [{ email: seeded.from, name: seeded.fromName }]);
    assert.deepEqual(m.to, [{ email: EMAIL, name: 'User Eight' }]);
    assert.deepEqual(m.folders, [inbox.id]);
    assert.equal(m.unread, true);
    assert.equal(m.starred, false);
    assert.ok(m.body?.includes('Please review the two attached files'), `body: ${m.body}`);
    assert.ok(m.snippet?.startsWith('Please review the two attached files'), `snippet: ${m.snippet}`);
    assert.ok(!m.snippet.includes('base64') && !m.snippet.includes('name,amount'), 'snippet is the text part only');

    assert.equal(m.attachments.length, seeded.attachments.length);
    seeded.attachments.forEach((expected, i) => {
      const a = m.attachments[i];
      assert.equal(a.filename, expected.filename);
      assert.ok(a.contentType.startsWith(expected.contentType), `content type ${a.contentType}`);
      assert.equal(a.size, expected.bytes.length, `size of ${expected.filename}`);
      assert.equal(a.isInline, false);
      assert.equal(a.grantId, grantId);
      assert.match(a.id, /^[A-Za-z0-9_-]+$/, 'attachment ids are URL-safe');
    });
  });

  it('messages.find of a plain message reflects its IMAP flags', async () => {
    const { nylas, grantId } = await suite();
    for (const key of ['page-030', 'page-031']) {
      const seeded = await corpusMessage(key);
      const listed = await messageBySubject(seeded.subject);
      const { data: m } = await nylas.messages.find({ identifier: grantId, messageId: listed.id });
      assert.equal(m.unread, !seeded.flags.includes('\\Seen'), `${key} unread`);
      assert.equal(m.starred, seeded.flags.includes('\\Flagged'), `${key} starred`);
      assert.ok(m.body?.includes(seeded.text), `${key} body: ${m.body}`);
      assert.equal(m.snippet, seeded.text);
      assert.deepEqual(m.attachments, []);
    }
  });

  it('hasAttachment filters to the one message with attachments', async () => {
    const { nylas, grantId } = await suite();
    const found = await nylas.messages.list({
      identifier: grantId,
      queryParams: { hasAttachment: true, limit: 50 },
    });
    assert.deepEqual(
      found.data.map((m) => m.subject),
      [(await corpusMessage('files')).subject],
    );
  });

  it('unread, starred and any_email filters match the seeded IMAP flags and addresses', async () => {
    const { nylas, grantId, corpus } = await suite();
    const keysOf = async (queryParams) => {
      const pages = [];
      const list = nylas.messages.list({ identifier: grantId, queryParams: { limit: 50, ...queryParams } });
      for await (const page of list) pages.push(...page.data);
      return new Set(pages.map((m) => corpus.identify(m)?.key));
    };
    const keys = (pred) => new Set(corpus.messages.filter(pred).map((m) => m.key));
    assert.deepEqual(await keysOf({ unread: true }), keys((m) => !m.flags.includes('\\Seen')));
    assert.deepEqual(await keysOf({ unread: false }), keys((m) => m.flags.includes('\\Seen')));
    assert.deepEqual(await keysOf({ starred: true }), keys((m) => m.flags.includes('\\Flagged')));
    assert.deepEqual(
      await keysOf({ anyEmail: ['alice@partner.example'] }),
      new Set(['plan-1', 'plan-2', 'plan-3']),
      'any_email matches From and To',
    );
  });

  it('an unknown message id rejects with NylasApiError 404 api.not_found_error', async () => {
    const { nylas, grantId } = await suite();
    await assertApiError(
      nylas.messages.find({ identifier: grantId, messageId: 'no-such-message-0123456789' }),
      404,
      'api.not_found_error',
    );
  });

  it('an unknown thread id rejects with NylasApiError 404 api.not_found_error', async () => {
    const { nylas, grantId } = await suite();
    await assertApiError(
      nylas.threads.find({ identifier: grantId, threadId: 'no-such-thread-0123456789' }),
      404,
      'api.not_found_error',
    );
  });
});

describe('attachments', () => {
  async function filesMessage() {
    const { nylas, grantId } = await suite();
    const listed = await messageBySubject((await corpusMessage('files')).subject);
    return (await nylas.messages.find({ identifier: grantId, messageId: listed.id })).data;
  }

  it('attachments.find returns the metadata and downloadBytes the exact seeded bytes', async () => {
    const { nylas, grantId } = await suite();
    const seeded = await corpusMessage('files');
    const message = await filesMessage();
    for (const [i, expected] of seeded.attachments.entries()) {
      const attachmentId = message.attachments[i].id;
      const meta = await nylas.attachments.find({
        identifier: grantId,
        attachmentId,
        queryParams: { messageId: message.id },
      });
      assert.equal(meta.data.id, attachmentId);
      assert.equal(meta.data.filename, expected.filename);
      assert.ok(meta.data.contentType.startsWith(expected.contentType), meta.data.contentType);
      assert.equal(meta.data.size, expected.bytes.length);

      const bytes = await nylas.attachments.downloadBytes({
        identifier: grantId,
        attachmentId,
        queryParams: { messageId: message.id },
      });
      assert.ok(Buffer.isBuffer(bytes));
      assert.equal(bytes.length, expected.bytes.length, `${expected.filename} length`);
      assert.ok(bytes.equals(expected.bytes), `${expected.filename} bytes differ`);
    }
  });

  it('attachments.download streams the same bytes', async () => {
    const { nylas, grantId } = await suite();
    const seeded = await corpusMessage('files');
    const message = await filesMessage();
    const stream = await nylas.attachments.download({
      identifier: grantId,
      attachmentId: message.attachments[0].id,
      queryParams: { messageId: message.id },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk));
    assert.ok(Buffer.concat(chunks).equals(seeded.attachments[0].bytes));
  });

  it('an unknown attachment id rejects with a JSON 404 for find and for download', async () => {
    const { nylas, grantId } = await suite();
    const message = await filesMessage();
    const params = { identifier: grantId, attachmentId: `${message.id}-99`, queryParams: { messageId: message.id } };
    await assertApiError(nylas.attachments.find(params), 404, 'api.not_found_error');
    await assertApiError(nylas.attachments.downloadBytes(params), 404, 'api.not_found_error');
  });
});
