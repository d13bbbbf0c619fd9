// The mail the suite seeds into testbed user8, built deterministically so the tests know
// exactly what the server must return.
//
//   * 130 standalone INBOX messages, one hour apart ("Paging probe NNN"), so INBOX holds
//     more than two pages of 50. Eight of them, the ones that land on sorted positions
//     45..52 (newest first), share one INTERNALDATE: the cursor must break the tie across
//     the page boundary at 50 without dropping or repeating a message.
//   * thread "Quarterly plan": INBOX -> reply in Sent -> INBOX (three messages, two folders);
//   * thread "Lunch on Friday?": two INBOX messages;
//   * "Files for review": multipart/mixed with a binary attachment (all 256 byte values)
//     and a UTF-8 CSV attachment.
//
// Every message's Date: header and INTERNALDATE are the same instant.

export const USER = 'user8';
export const PASSWORD = 'pass8';
export const DOMAIN = 'example.test';
export const EMAIL = `${USER}@${DOMAIN}`;

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0) / 1000; // Mon, 05 Jan 2026 08:00:00 UTC
const HOUR = 3600;
export const STANDALONE_COUNT = 130;
export const PAGE_SIZE = 50;
const TIE_POSITIONS = [45, 52]; // inclusive, newest-first positions sharing one date

const CRLF = '\r\n';

function rfc2822(unix) {
  return new Date(unix * 1000).toUTCString().replace(/GMT$/, '+0000');
}

function pad3(n) {
  return String(n).padStart(3, '0');
}

/** Deterministic bytes: every value 0..255 once, then an LCG stream, `length` in all. */
function blobBytes(length) {
  const out = Buffer.alloc(length);
  for (let i = 0; i < 256 && i < length; i++) out[i] = i;
  let x = 0x2545f491;
  for (let i = 256; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function base64Lines(buffer) {
  return buffer.toString('base64').match(/.{1,76}/g).join(CRLF);
}

function headers({ from, to, subject, date, messageId, inReplyTo, references }) {
  const lines = [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${rfc2822(date)}`,
    `Message-ID: ${messageId}`,
  ];
  if (inReplyTo) lines.push(`In-Reply-To: ${inReplyTo}`);
  if (references) lines.push(`References: ${references}`);
  lines.push('MIME-Version: 1.0');
  return lines;
}

function plainMessage(fields, text) {
  return [
    ...headers(fields),
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
    '',
  ].join(CRLF);
}

function mixedMessage(fields, text, attachments) {
  const boundary = '=_node_sdk_boundary_7f3a';
  const parts = [
    ...headers(fields),
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
  ];
  for (const a of attachments) {
    parts.push(
      `--${boundary}`,
      `Content-Type: ${a.contentType}; name="${a.filename}"`,
      `Content-Disposition: attachment; filename="${a.filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(a.bytes),
    );
  }
  parts.push(`--${boundary}--`, '');
  return parts.join(CRLF);
}

/**
 * The corpus: `messages` (each with key, folder, flags, date, subject, from, threadKey,
 * raw, and for the attachment message `attachments`), plus derived expectations.
 */
export function buildCorpus() {
  const messages = [];

  for (let i = 0; i < STANDALONE_COUNT; i++) {
    const n = i % 7;
    const flags = [];
    if (i % 3 === 0) flags.push('\\Seen');
    if (i % 10 === 0) flags.push('\\Flagged');
    messages.push({
      key: `page-${pad3(i)}`,
      threadKey: `page-${pad3(i)}`,
      folder: 'INBOX',
      flags,
      date: T0 + i * HOUR,
      subject: `Paging probe ${pad3(i)}`,
      from: `sender${n}@corp.example`,
      fromName: `Sender ${n}`,
      messageId: `<page-${pad3(i)}@node-sdk.test>`,
      text: `Paging probe body ${i}. Unique token ZP${i}Q.`,
    });
  }

  const A1 = '<plan-1@partner.example>';
  const A2 = '<plan-2@example.test>';
  const A3 = '<plan-3@partner.example>';
  messages.push(
    {
      key: 'plan-1', threadKey: 'plan', folder: 'INBOX', flags: ['\\Seen'],
      date: T0 + 10 * HOUR + 1800, subject: 'Quarterly plan',
      from: 'alice@partner.example', fromName: 'Alice Partner', messageId: A1,
      text: 'Here is the draft of the quarterly plan.',
    },
    {
      key: 'plan-2', threadKey: 'plan', folder: 'Sent', flags: ['\\Seen'],
      date: T0 + 40 * HOUR + 1800, subject: 'Re: Quarterly plan',
      from: EMAIL, fromName: 'User Eight', to: 'alice@partner.example',
      messageId: A2, inReplyTo: A1, references: A1,
      text: 'Looks good, two comments inline.',
    },
    {
      key: 'plan-3', threadKey: 'plan', folder: 'INBOX', flags: [],
      date: T0 + 120 * HOUR + 1800, subject: 'Re: Quarterly plan',
      from: 'alice@partner.example', fromName: 'Alice Partner', messageId: A3,
      inReplyTo: A2, references: `${A1} ${A2}`,
      text: 'Updated version attached to the wiki.',
    },
  );

  const B1 = '<lunch-1@friends.example>';
  const B2 = '<lunch-2@friends.example>';
  messages.push(
    {
      key: 'lunch-1', threadKey: 'lunch', folder: 'INBOX', flags: [],
      date: T0 + 60 * HOUR + 1800, subject: 'Lunch on Friday?',
      from: 'bob@friends.example', fromName: 'Bob', messageId: B1,
      text: 'Shall we try the new place?',
    },
    {
      key: 'lunch-2', threadKey: 'lunch', folder: 'INBOX', flags: ['\\Seen'],
      date: T0 + 61 * HOUR + 1800, subject: 'Re: Lunch on Friday?',
      from: 'carol@friends.example', fromName: 'Carol', messageId: B2,
      inReplyTo: B1, references: B1,
      text: 'Count me in.',
    },
  );

  messages.push({
    key: 'files', threadKey: 'files', folder: 'INBOX', flags: [],
    date: T0 + 100 * HOUR + 1800, subject: 'Files for review',
    from: 'dana@files.example', fromName: 'Dana Files', messageId: '<files-1@files.example>',
    text: 'Please review the two attached files before Thursday. Token FILES42.',
    attachments: [
      { filename: 'blob.bin', contentType: 'application/octet-stream', bytes: blobBytes(5000) },
      {
        filename: 'notes.csv',
        contentType: 'text/csv',
        bytes: Buffer.from('name,amount\r\nCafé,3.50\r\nZoë,12.00\r\n', 'utf8'),
      },
    ],
  });

  // The tie across the first page boundary.
  const byDate = [...messages].sort((a, b) => b.date - a.date);
  const tied = byDate.slice(TIE_POSITIONS[0], TIE_POSITIONS[1] + 1);
  if (!tied.every((m) => m.key.startsWith('page-'))) {
    throw new Error('corpus: the tied positions must hold standalone messages');
  }
  for (const m of tied) m.date = tied[0].date;

  for (const m of messages) {
    const fields = {
      from: `"${m.fromName}" <${m.from}>`,
      to: m.to ?? `"User Eight" <${EMAIL}>`,
      subject: m.subject,
      date: m.date,
      messageId: m.messageId,
      inReplyTo: m.inReplyTo,
      references: m.references,
    };
    m.raw = m.attachments ? mixedMessage(fields, m.text, m.attachments) : plainMessage(fields, m.text);
  }

  const keys = new Set(messages.map((m) => `${m.subject}\u0000${m.date}`));
  if (keys.size !== messages.length) throw new Error('corpus: subject+date must identify a message');

  const inbox = messages.filter((m) => m.folder === 'INBOX');
  return {
    messages,
    total: messages.length,
    tiedKeys: tied.map((m) => m.key),
    inboxTotal: inbox.length,
    inboxUnread: inbox.filter((m) => !m.flags.includes('\\Seen')).length,
    threadKeys: [...new Set(messages.map((m) => m.threadKey))],
    /** Looks up the corpus message an API message stands for. */
    identify(apiMessage) {
      return messages.find((m) => m.subject === apiMessage.subject && m.date === apiMessage.date);
    },
  };
}
