// Templates (docs/API.md §5.10) with the official Nylas Node SDK (nylas 8.4.0, unchanged).
// The SDK has no templates resource, so the template calls are fetch requests with the
// application's API key, as Nylas' own guide shows; the send that uses a template is the
// SDK's messages.send (which turns the body's keys to snake_case, so the variables here are
// snake_case already). The message is read back through the API from the recipient's
// INBOX, with its rendered subject and body.
//
// This file owns testbed user517 (its own lock, its own mailroom) and wipes it first. Every
// wait polls with a deadline.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';

import { NylasApiError } from 'nylas';

import { MailroomServer } from './helper.js';
import { acquireLock, resetUser, sharedSetup, startTestbed } from '../../support/mailroom_process.js';

const USER = 'user517';
const PASSWORD = 'pass517';
const EMAIL = `${USER}@example.test`;
const DEADLINE_MS = 60_000;
const POLL_MS = 100;

async function until(what, probe) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const [done, observed] = await probe();
    if (done) return observed;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(observed)}`);
    }
    await delay(POLL_MS);
  }
}

async function start() {
  const release = await acquireLock(`mailroom-sdk-node-${USER}`);
  let server;
  try {
    const testbed = startTestbed({ user: USER });
    resetUser(USER);
    server = new MailroomServer(testbed, 'templates');
    await server.start();
    const app = server.appCreate('sdk-node-templates');
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
    await until('the first sync', async () => {
      const reply = await server.raw('GET', `/v3/grants/${grantId}`, app.api_key);
      return [reply.json?.data?.sync_state === 'running', reply.text];
    });
    let closed = false;
    return {
      server,
      nylas,
      grantId,
      app,
      call: (method, urlPath, body) => server.raw(method, urlPath, app.api_key, { body }),
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

describe('templates over HTTP', () => {
  it('are kept per owner, checked, changed and rendered', async () => {
    const { call, grantId, app } = await suite();
    const made = await call('POST', '/v3/templates', {
      name: 'Welcome',
      subject: 'Welcome, {{ user.name }}',
      body: '<p>Hello {{ user.name }}</p>',
      engine: 'twig',
    });
    assert.equal(made.status, 200, made.text);
    const template = made.json.data;
    assert.equal(template.object, 'template');
    assert.equal(template.app_id, app.application_id);
    assert.equal(template.grant_id, null);

    const own = await call('POST', `/v3/grants/${grantId}/templates`, {
      name: 'Own',
      subject: 'Hi {{name}}',
      body: '{{#if vip}}VIP {{/if}}{{name}}',
      engine: 'handlebars',
    });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json.data.grant_id, grantId);
    const foreign = await call('GET', `/v3/grants/${grantId}/templates/${template.id}`);
    assert.equal(foreign.status, 404, 'the application\'s template is not the grant\'s');

    const rendered = await call('POST', `/v3/grants/${grantId}/templates/${own.json.data.id}/render`, {
      variables: { name: '<Bo>', vip: true },
    });
    assert.deepEqual(rendered.json.data, { subject: 'Hi <Bo>', body: 'VIP &lt;Bo&gt;' });
    const lenient = await call('POST', `/v3/templates/${template.id}/render`, {
      variables: {},
      strict: false,
    });
    assert.deepEqual(lenient.json.data, { subject: 'Welcome, ', body: '<p>Hello </p>' });

    const unknownEngine = await call('POST', '/v3/templates', {
      name: 'x',
      subject: 'x',
      body: 'x',
      engine: 'liquid',
    });
    assert.equal(unknownEngine.status, 400);
    assert.match(unknownEngine.json.error.message, /mustache, handlebars, nunjucks, twig/);

    const renamed = await call('PUT', `/v3/templates/${template.id}`, { name: 'Renamed' });
    assert.equal(renamed.json.data.name, 'Renamed');
    assert.equal(renamed.json.data.body, template.body);
    const deleted = await call('DELETE', `/v3/templates/${template.id}`);
    assert.equal(deleted.status, 200);
    assert.equal((await call('GET', `/v3/templates/${template.id}`)).status, 404);
  });
});

describe('messages.send with a template', () => {
  it('refuses a missing variable and delivers the rendered message', async () => {
    const { call, nylas, grantId } = await suite();
    const tag = crypto.randomBytes(5).toString('hex');
    const made = await call('POST', '/v3/templates', {
      name: 'Receipt',
      subject: 'Receipt {{tag}} for {{user.name}}',
      body: '<p>Thanks, {{user.name}}: {{#items}}{{.}};{{/items}}</p>',
    });
    assert.equal(made.status, 200, made.text);
    assert.equal(made.json.data.engine, 'mustache');

    await assert.rejects(
      nylas.messages.send({
        identifier: grantId,
        requestBody: { to: [{ email: EMAIL }], template: { id: made.json.data.id, variables: { tag } } },
      }),
      (error) => {
        assert.ok(error instanceof NylasApiError, String(error));
        assert.equal(error.statusCode, 400);
        assert.match(error.message, /user\.name/);
        return true;
      },
    );

    const sent = await nylas.messages.send({
      identifier: grantId,
      requestBody: {
        to: [{ email: EMAIL }],
        template: {
          id: made.json.data.id,
          variables: { tag, user: { name: 'Ann & Bo' }, items: ['tea', 'cake'] },
          strict: true,
        },
      },
    });
    assert.equal(sent.data.subject, `Receipt ${tag} for Ann & Bo`);

    const folders = (await nylas.folders.list({ identifier: grantId })).data;
    const inbox = folders.find((f) => (f.attributes ?? []).includes('\\Inbox'))?.id;
    assert.ok(inbox, JSON.stringify(folders));
    const delivered = await until('the templated message in INBOX', async () => {
      const found = (
        await nylas.messages.list({ identifier: grantId, queryParams: { subject: tag, in: [inbox] } })
      ).data;
      return [found.length === 1, found.map((m) => m.subject)];
    });
    assert.deepEqual(delivered, [`Receipt ${tag} for Ann & Bo`]);
    const [listed] = (
      await nylas.messages.list({ identifier: grantId, queryParams: { subject: tag, in: [inbox] } })
    ).data;
    const read = (await nylas.messages.find({ identifier: grantId, messageId: listed.id })).data;
    assert.match(read.body, /Thanks, Ann &amp; Bo: tea;cake;/);
  });
});
