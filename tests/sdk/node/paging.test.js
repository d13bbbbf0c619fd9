// Auto-paging with the official Node SDK: `list()` used as an async iterator follows
// `next_cursor` until it is falsy, and `list()` awaited with a `limit` pages by itself
// until it has `limit` items. The corpus (corpus.js) holds 136 messages in 133 threads,
// with eight messages sharing one date across the first page boundary.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PAGE_SIZE } from './corpus.js';
import { collectPages, sharedSuite } from './helper.js';

const suite = sharedSuite('paging');

/** Page sizes a cursor API with `limit` must produce for `total` items. */
function expectedPageSizes(total, limit) {
  const sizes = [];
  for (let left = total; left > 0; left -= limit) sizes.push(Math.min(left, limit));
  return sizes;
}

/** The corpus newest first: dates strictly descending except for the tied group. */
function corpusNewestFirst(corpus) {
  return [...corpus.messages].sort((a, b) => b.date - a.date);
}

async function folderIdsByAttribute({ nylas, grantId }) {
  const folders = await nylas.folders.list({ identifier: grantId });
  const byAttr = (attr) => folders.data.find((f) => (f.attributes ?? []).includes(attr))?.id;
  const ids = { inbox: byAttr('\\Inbox'), sent: byAttr('\\Sent') };
  assert.ok(ids.inbox, `no folder with \\Inbox among ${JSON.stringify(folders.data)}`);
  assert.ok(ids.sent, `no folder with \\Sent among ${JSON.stringify(folders.data)}`);
  return ids;
}

function assertPagesShape(pages, total, what) {
  assert.deepEqual(
    pages.map((p) => p.data.length),
    expectedPageSizes(total, PAGE_SIZE),
    `${what}: page sizes`,
  );
  pages.forEach((page, i) => {
    assert.equal(typeof page.requestId, 'string', `${what}: page ${i} has a requestId`);
    if (i < pages.length - 1) {
      assert.ok(page.nextCursor, `${what}: page ${i} (not the last) must carry a nextCursor`);
    } else {
      assert.ok(!page.nextCursor, `${what}: the last page must not carry a nextCursor, got ${page.nextCursor}`);
    }
  });
}

describe('messages.list auto-paging', () => {
  it('the async iterator yields every message exactly once, newest first across pages', async () => {
    const { nylas, grantId, corpus } = await suite();
    const pages = await collectPages(nylas.messages.list({ identifier: grantId, queryParams: { limit: PAGE_SIZE } }));
    assertPagesShape(pages, corpus.total, 'messages');

    const all = pages.flatMap((p) => p.data);
    assert.equal(all.length, corpus.total);
    assert.equal(new Set(all.map((m) => m.id)).size, corpus.total, 'a message id repeats across pages');

    const matched = all.map((m) => {
      const c = corpus.identify(m);
      assert.ok(c, `message ${m.id} (${m.subject} @ ${m.date}) is not one the suite seeded`);
      assert.equal(m.grantId, grantId);
      assert.equal(m.object, 'message');
      assert.equal(m.threadId && typeof m.threadId, 'string');
      assert.ok(Array.isArray(m.folders) && m.folders.length === 1, `message ${m.id} folders ${m.folders}`);
      return c;
    });
    assert.deepEqual(
      new Set(matched.map((c) => c.key)),
      new Set(corpus.messages.map((c) => c.key)),
      'every seeded message, each once',
    );

    // Newest first over the whole sequence, page boundaries included.
    const expected = corpusNewestFirst(corpus);
    assert.deepEqual(
      all.map((m) => m.date),
      expected.map((c) => c.date),
      'dates newest first across page boundaries',
    );
    const tied = new Set(corpus.tiedKeys);
    matched.forEach((c, i) => {
      if (!tied.has(expected[i].key)) assert.equal(c.key, expected[i].key, `position ${i}`);
    });
    // The tied group really straddles the first page boundary, so the tie-break was exercised.
    const tiedOnPage = (n) => pages[n].data.filter((m) => tied.has(corpus.identify(m).key)).length;
    assert.ok(tiedOnPage(0) > 0 && tiedOnPage(1) > 0, 'the tied messages sit on both sides of the boundary');
    assert.equal(tiedOnPage(0) + tiedOnPage(1), corpus.tiedKeys.length);
  });

  it('auto-paging keeps the filters: `in` INBOX yields every INBOX message and nothing else', async () => {
    const { nylas, grantId, corpus } = await suite();
    const { inbox } = await folderIdsByAttribute({ nylas, grantId });
    const pages = await collectPages(
      nylas.messages.list({ identifier: grantId, queryParams: { limit: PAGE_SIZE, in: [inbox] } }),
    );
    assertPagesShape(pages, corpus.inboxTotal, 'messages in INBOX');
    const all = pages.flatMap((p) => p.data);
    assert.equal(new Set(all.map((m) => m.id)).size, corpus.inboxTotal);
    for (const m of all) assert.deepEqual(m.folders, [inbox], `${m.subject} is in INBOX only`);
    assert.deepEqual(
      new Set(all.map((m) => corpus.identify(m)?.key)),
      new Set(corpus.messages.filter((c) => c.folder === 'INBOX').map((c) => c.key)),
    );
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].date >= all[i].date, `order at ${i}`);
  });

  it('awaited list() returns one page with a cursor that page_token follows to the same sequence', async () => {
    const { nylas, grantId, corpus } = await suite();
    const viaIterator = (
      await collectPages(nylas.messages.list({ identifier: grantId, queryParams: { limit: PAGE_SIZE } }))
    ).flatMap((p) => p.data.map((m) => m.id));

    const manual = [];
    let pageToken;
    let requests = 0;
    do {
      const queryParams = pageToken ? { limit: PAGE_SIZE, pageToken } : { limit: PAGE_SIZE };
      const page = await nylas.messages.list({ identifier: grantId, queryParams });
      assert.ok(page.data.length <= PAGE_SIZE, `a page holds ${page.data.length} > limit ${PAGE_SIZE}`);
      assert.ok(page.data.length > 0, 'an empty page must not be reached through a cursor');
      manual.push(...page.data.map((m) => m.id));
      pageToken = page.nextCursor;
      requests += 1;
      assert.ok(requests <= Math.ceil(corpus.total / PAGE_SIZE), 'more pages than messages allow');
    } while (pageToken);
    assert.deepEqual(manual, viaIterator);
  });

  it('awaited list() with a limit above the total returns everything in one page and no cursor', async () => {
    const { nylas, grantId, corpus } = await suite();
    const page = await nylas.messages.list({ identifier: grantId, queryParams: { limit: 200 } });
    assert.equal(page.data.length, corpus.total);
    assert.ok(!page.nextCursor, `no cursor after the last message, got ${page.nextCursor}`);
    assert.equal(new Set(page.data.map((m) => m.id)).size, corpus.total);
  });
});

describe('threads.list auto-paging', () => {
  it('the async iterator yields every thread exactly once, by latest message, newest first', async () => {
    const { nylas, grantId, corpus } = await suite();
    const messages = (
      await collectPages(nylas.messages.list({ identifier: grantId, queryParams: { limit: 200 } }))
    ).flatMap((p) => p.data);
    assert.equal(messages.length, corpus.total);
    const keyOf = new Map(messages.map((m) => [m.id, corpus.identify(m).key]));
    const byKey = new Map(corpus.messages.map((c) => [c.key, c]));
    const { inbox, sent } = await folderIdsByAttribute({ nylas, grantId });

    const pages = await collectPages(nylas.threads.list({ identifier: grantId, queryParams: { limit: PAGE_SIZE } }));
    assertPagesShape(pages, corpus.threadKeys.length, 'threads');
    const threads = pages.flatMap((p) => p.data);
    assert.equal(new Set(threads.map((t) => t.id)).size, corpus.threadKeys.length, 'a thread id repeats');

    // Every message in exactly one thread, and threads group exactly the seeded conversations.
    const seen = new Map();
    const threadByKey = new Map();
    for (const t of threads) {
      assert.equal(t.object, 'thread');
      assert.equal(t.grantId, grantId);
      assert.ok(t.messageIds.length > 0, `thread ${t.id} has no messages`);
      const threadKeys = new Set();
      for (const id of t.messageIds) {
        assert.ok(keyOf.has(id), `thread ${t.id} names unknown message ${id}`);
        assert.ok(!seen.has(id), `message ${id} is in threads ${seen.get(id)} and ${t.id}`);
        seen.set(id, t.id);
        threadKeys.add(byKey.get(keyOf.get(id)).threadKey);
      }
      assert.equal(threadKeys.size, 1, `thread ${t.id} mixes conversations ${[...threadKeys]}`);
      const [threadKey] = threadKeys;
      assert.ok(!threadByKey.has(threadKey), `conversation ${threadKey} is split over two threads`);
      threadByKey.set(threadKey, t);
      const expectedLatest = Math.max(...corpus.messages.filter((c) => c.threadKey === threadKey).map((c) => c.date));
      assert.equal(t.latestMessageReceivedDate, expectedLatest, `latest date of ${threadKey}`);
      assert.equal(t.latestDraftOrMessage?.object, 'message');
    }
    assert.equal(seen.size, corpus.total, 'every message belongs to a thread');

    for (let i = 1; i < threads.length; i++) {
      assert.ok(
        threads[i - 1].latestMessageReceivedDate >= threads[i].latestMessageReceivedDate,
        `threads out of order at ${i}`,
      );
    }

    const plan = threadByKey.get('plan');
    assert.equal(plan.messageIds.length, 3);
    assert.equal(plan.subject, 'Quarterly plan');
    assert.deepEqual(new Set(plan.folders), new Set([inbox, sent]));
    assert.equal(plan.earliestMessageDate, byKey.get('plan-1').date);
    assert.equal(plan.latestDraftOrMessage.subject, 'Re: Quarterly plan');
    assert.equal(plan.latestDraftOrMessage.date, byKey.get('plan-3').date);
    assert.equal(plan.unread, true, 'plan-3 is unread');
    const emails = new Set(plan.participants.map((p) => p.email));
    assert.ok(emails.has('alice@partner.example') && emails.has('user8@example.test'), [...emails].join());

    const lunch = threadByKey.get('lunch');
    assert.equal(lunch.messageIds.length, 2);
    assert.deepEqual(lunch.folders, [inbox]);

    assert.equal(threadByKey.get('files').hasAttachments, true);
    assert.equal(threadByKey.get('lunch').hasAttachments, false);
  });
});
