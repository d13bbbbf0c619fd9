"""Webhook destinations through the official Nylas Python SDK (nylas==6.18.0), unchanged:
``nylas.webhooks.create/list/find/update/destroy/rotate_secret/ip_addresses`` against a
real mailroom, with a receiver in the test (``http.server`` on 127.0.0.1) that answers the
``?challenge=`` handshake using the SDK's own ``extract_challenge_parameter``.
No testbed mail users are needed.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List

import pytest
from nylas.models.errors import NylasApiError
from nylas.models.response import DeleteResponse, ListResponse, Response
from nylas.models.webhooks import (
    Webhook,
    WebhookDeleteResponse,
    WebhookIpAddressesResponse,
    WebhookTriggers,
    WebhookWithSecret,
)
from nylas.resources.webhooks import extract_challenge_parameter


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that echoes the challenge (or, if ``honest`` is
    false, answers something else) and records the paths it was asked for."""

    def __init__(self, honest: bool = True):
        self.paths: List[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                receiver.paths.append(self.path)
                try:
                    challenge = extract_challenge_parameter("http://receiver" + self.path)
                except ValueError:
                    challenge = ""
                body = (challenge if honest else "wrong").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/nylas/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def challenges(self) -> int:
        return sum("challenge=" in p for p in self.paths)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


REQUIRED = (
    "id",
    "trigger_types",
    "webhook_url",
    "status",
    "notification_email_addresses",
    "status_updated_at",
    "created_at",
    "updated_at",
    "description",
)


def test_create_list_find_update_rotate_destroy(new_app, mailroom, receiver):
    app = new_app()
    webhooks = app.client.webhooks

    assert webhooks.list().data == []

    created = webhooks.create(
        request_body={
            "trigger_types": [WebhookTriggers.MESSAGE_CREATED, WebhookTriggers.GRANT_EXPIRED],
            "webhook_url": receiver.url,
            "description": "sdk",
            "notification_email_addresses": ["ops@example.com"],
        }
    )
    assert isinstance(created, Response)
    assert created.request_id
    hook = created.data
    assert isinstance(hook, WebhookWithSecret)
    assert hook.webhook_secret
    assert hook.status == "active"
    assert hook.webhook_url == receiver.url
    assert hook.trigger_types == [WebhookTriggers.MESSAGE_CREATED, WebhookTriggers.GRANT_EXPIRED]
    assert hook.notification_email_addresses == ["ops@example.com"]
    assert hook.description == "sdk"
    assert receiver.challenges() == 1
    secret = hook.webhook_secret

    found = webhooks.find(webhook_id=hook.id)
    assert isinstance(found.data, Webhook)
    assert found.data.id == hook.id
    raw = mailroom.raw("GET", f"/v3/webhooks/{hook.id}", app.api_key).json()["data"]
    for key in REQUIRED:
        assert key in raw, key
    assert "webhook_secret" not in raw

    listed = webhooks.list()
    assert isinstance(listed, ListResponse)
    assert [w.id for w in listed.data] == [hook.id]
    assert secret not in mailroom.raw("GET", "/v3/webhooks", app.api_key).text

    updated = webhooks.update(
        webhook_id=hook.id,
        request_body={
            "description": "renamed",
            "trigger_types": [WebhookTriggers.FOLDER_CREATED, WebhookTriggers.THREAD_REPLIED],
        },
    )
    assert isinstance(updated.data, Webhook)
    assert updated.data.description == "renamed"
    assert updated.data.trigger_types == [WebhookTriggers.FOLDER_CREATED, WebhookTriggers.THREAD_REPLIED]
    assert receiver.challenges() == 1, "no new handshake without a new URL"

    moved = webhooks.update(webhook_id=hook.id, request_body={"webhook_url": receiver.url + "?v=2"})
    assert moved.data.webhook_url == receiver.url + "?v=2"
    assert receiver.challenges() == 2

    rotated = webhooks.rotate_secret(webhook_id=hook.id)
    assert isinstance(rotated.data, WebhookWithSecret)
    assert rotated.data.webhook_secret and rotated.data.webhook_secret != secret
    assert rotated.data.id == hook.id

    deleted = webhooks.destroy(webhook_id=hook.id)
    assert isinstance(deleted, WebhookDeleteResponse)
    assert deleted.request_id
    assert deleted.data.status == "success"
    with pytest.raises(NylasApiError) as excinfo:
        webhooks.find(webhook_id=hook.id)
    assert excinfo.value.status_code == 404
    assert webhooks.list().data == []


def test_every_supported_trigger_parses_in_the_sdk(new_app, receiver):
    app = new_app()
    triggers = [
        "grant.created", "grant.updated", "grant.deleted", "grant.expired",
        "message.created", "message.updated", "message.deleted", "message.send_success",
        "message.send_failed", "message.bounce_detected", "folder.created", "folder.updated",
        "folder.deleted", "event.created", "event.updated", "event.deleted",
        "contact.updated", "contact.deleted", "thread.replied",
        "calendar.created", "calendar.updated", "calendar.deleted",
    ]
    created = app.client.webhooks.create(request_body={"trigger_types": triggers, "webhook_url": receiver.url})
    assert [t.value for t in created.data.trigger_types] == triggers
    listed = app.client.webhooks.list()
    assert [t.value for t in listed.data[0].trigger_types] == triggers


def test_failed_challenge_and_unknown_trigger_are_api_errors(new_app):
    app = new_app()
    liar = Receiver(honest=False)
    try:
        with pytest.raises(NylasApiError) as excinfo:
            app.client.webhooks.create(
                request_body={"trigger_types": ["message.created"], "webhook_url": liar.url}
            )
        assert excinfo.value.status_code == 400
        assert "challenge" in str(excinfo.value)
        assert liar.challenges() == 1
    finally:
        liar.close()

    with pytest.raises(NylasApiError) as excinfo:
        app.client.webhooks.create(
            request_body={"trigger_types": ["grant.imap_sync_completed"], "webhook_url": "https://example.com/x"}
        )
    assert excinfo.value.status_code == 400
    assert "grant.imap_sync_completed" in str(excinfo.value)
    assert app.client.webhooks.list().data == []


def test_ip_addresses_and_mock_payload(new_app, mailroom):
    app = new_app()
    ips = app.client.webhooks.ip_addresses()
    assert isinstance(ips.data, WebhookIpAddressesResponse)
    assert ips.data.ip_addresses == []
    assert isinstance(ips.data.updated_at, int)

    mock = mailroom.raw(
        "POST", "/v3/webhooks/mock-payload", app.api_key, json={"trigger_type": "message.created"}
    )
    assert mock.status_code == 200, mock.text
    payload = mock.json()["data"]
    assert payload["specversion"] == "1.0"
    assert payload["type"] == "message.created"
    assert payload["data"]["application_id"] == app.application_id
    assert payload["data"]["object"]["grant_id"]
