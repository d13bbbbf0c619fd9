"""Templates (docs/API.md §5.10) with the official Nylas Python SDK (nylas==6.18.0). The
SDK has no templates resource, so the template calls go over HTTP with ``requests`` and
the application's API key, as Nylas' own guide does; the send that uses a template is the
SDK's ``messages.send``, unchanged. The message is then read back through the API, from
the recipient's Inbox, with its rendered subject and body. Testbed user 516.
"""

from __future__ import annotations

import uuid

import pytest
from nylas.models.errors import NylasApiError

import mailbox_seed
from conftest import wait_until

USER = 516
SYNC_DEADLINE = 60.0
DELIVERY_DEADLINE = 60.0


@pytest.fixture(scope="module")
def grant(mailroom, testbed):
    """User 516 wiped, a grant on it, synced."""
    mailbox_seed.wipe_user(USER)
    app = mailroom.create_app("sdk-python-templates")
    app.client.connectors.create(request_body={"provider": "imap"})
    created = app.client.auth.custom_authentication(
        {"provider": "imap", "settings": testbed.imap_settings(USER)}
    ).data

    def synced():
        data = mailroom.raw("GET", f"/v3/grants/{created.id}", app.api_key).json()["data"]
        return data.get("sync_state") == "running", data.get("sync_state")

    wait_until("the grant's first sync", synced, SYNC_DEADLINE)
    return app, created


def call(mailroom, app, method, path, body=None):
    reply = mailroom.raw(method, path, app.api_key, json=body)
    return reply.status_code, reply.json()


def test_templates_are_kept_per_owner_and_rendered(mailroom, grant):
    app, created = grant
    status, made = call(mailroom, app, "POST", "/v3/templates", {
        "name": "Welcome",
        "subject": "Welcome, {{user.name}}",
        "body": "<p>Hello {{user.name}}</p>",
        "engine": "handlebars",
    })
    assert status == 200, made
    template = made["data"]
    assert template["object"] == "template"
    assert template["app_id"] == app.application_id and template["grant_id"] is None
    assert template["engine"] == "handlebars"

    status, own = call(mailroom, app, "POST", f"/v3/grants/{created.id}/templates", {
        "name": "Own", "subject": "{{ topic }}", "body": "<b>{{ topic }}</b>", "engine": "twig",
    })
    assert status == 200, own
    assert own["data"]["grant_id"] == created.id

    status, listed = call(mailroom, app, "GET", "/v3/templates?limit=1")
    assert status == 200 and [t["id"] for t in listed["data"]] == [template["id"]]
    assert "next_cursor" not in listed
    status, missing = call(mailroom, app, "GET", f"/v3/templates/{own['data']['id']}")
    assert status == 404, "a grant's template is not the application's"

    status, rendered = call(mailroom, app, "POST", f"/v3/templates/{template['id']}/render",
                            {"variables": {"user": {"name": "<Ann>"}}})
    assert status == 200, rendered
    assert rendered["data"] == {"subject": "Welcome, <Ann>", "body": "<p>Hello &lt;Ann&gt;</p>"}
    status, strict = call(mailroom, app, "POST", f"/v3/templates/{template['id']}/render",
                          {"variables": {}})
    assert status == 400 and "user.name" in strict["error"]["message"], strict
    status, html = call(mailroom, app, "POST", "/v3/templates/render", {
        "body": "{{#items}}[{{.}}]{{/items}}", "engine": "mustache", "variables": {"items": [1, 2]},
    })
    assert status == 200 and html["data"] == {"body": "[1][2]"}, html

    status, changed = call(mailroom, app, "PUT", f"/v3/templates/{template['id']}",
                           {"name": "Welcome again"})
    assert status == 200 and changed["data"]["subject"] == "Welcome, {{user.name}}", changed
    status, broken = call(mailroom, app, "PUT", f"/v3/templates/{template['id']}",
                          {"body": "{{#if x}}"})
    assert status == 400 and broken["error"]["type"] == "api.invalid_request_error", broken


def test_a_send_with_a_template_arrives_rendered(mailroom, testbed, grant):
    app, created = grant
    tag = uuid.uuid4().hex[:10]
    status, made = call(mailroom, app, "POST", f"/v3/grants/{created.id}/templates", {
        "name": "Receipt",
        "subject": "Receipt {{ tag }} for {{ user.name }}",
        "body": "<p>Thanks, {{ user.name }}: {% for i in items %}{{ i }};{% endfor %}</p>",
        "engine": "nunjucks",
    })
    assert status == 200, made
    address = testbed.email(USER)
    variables = {"tag": tag, "user": {"name": "Ann & Bo"}, "items": ["tea", "cake"]}

    with pytest.raises(NylasApiError) as refused:
        app.client.messages.send(created.id, request_body={
            "to": [{"email": address}],
            "template": {"id": made["data"]["id"], "variables": {"tag": tag}},
        })
    assert refused.value.status_code == 400 and "user.name" in str(refused.value)

    sent = app.client.messages.send(created.id, request_body={
        "to": [{"email": address}],
        "template": {"id": made["data"]["id"], "variables": variables, "strict": True},
    }).data
    assert sent.subject == f"Receipt {tag} for Ann & Bo"

    inbox = next(f.id for f in app.client.folders.list(created.id).data if f.name == "INBOX")

    def delivered():
        found = app.client.messages.list(
            created.id, query_params={"subject": tag, "in": inbox}
        ).data
        return len(found) == 1, [m.subject for m in found]

    wait_until("the templated message in the recipient's Inbox", delivered, DELIVERY_DEADLINE)
    (message,) = app.client.messages.list(
        created.id, query_params={"subject": tag, "in": inbox}
    ).data
    read = app.client.messages.find(created.id, message.id).data
    assert read.subject == f"Receipt {tag} for Ann & Bo"
    assert "Thanks, Ann &amp; Bo: tea;cake;" in read.body, read.body
