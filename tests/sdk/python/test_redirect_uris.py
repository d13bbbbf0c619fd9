"""Redirect (callback) URIs through the official Nylas Python SDK (nylas==6.18.0),
unchanged: ``nylas.applications.redirect_uris.list/find/create/update/destroy`` against a
real mailroom, each test on an application of its own. Where the point is the wire (every
field present, ``settings`` an object), the raw JSON is read with ``requests``.
"""

from __future__ import annotations

import pytest
from nylas.models.application_details import ApplicationDetails
from nylas.models.errors import NylasApiError
from nylas.models.redirect_uri import RedirectUri, RedirectUriSettings
from nylas.models.response import DeleteResponse, ListResponse, Response

PATH = "/v3/applications/redirect-uris"


def api_error(call) -> NylasApiError:
    with pytest.raises(NylasApiError) as excinfo:
        call()
    err = excinfo.value
    assert err.request_id, "the error envelope carries request_id"
    return err


def test_create_find_list_update_destroy(new_app, mailroom):
    app = new_app()
    uris = app.client.applications.redirect_uris

    empty = uris.list()
    assert isinstance(empty, ListResponse)
    assert empty.data == []
    assert empty.request_id

    created = uris.create(request_body={"url": "https://example.com/callback"})
    assert isinstance(created, Response)
    assert created.request_id
    web = created.data
    assert isinstance(web, RedirectUri)
    assert web.id
    assert web.url == "https://example.com/callback"
    assert web.platform == "web", "platform defaults to web"
    assert web.settings == RedirectUriSettings()
    assert web.deleted_at is None

    ios = uris.create(
        request_body={
            "url": "com.example.app://oauth/callback",
            "platform": "ios",
            "settings": {"bundle_id": "com.example.app", "app_store_id": "123456789", "team_id": "ABCDE12345"},
        }
    ).data
    assert ios.platform == "ios"
    assert ios.settings == RedirectUriSettings(
        bundle_id="com.example.app", app_store_id="123456789", team_id="ABCDE12345"
    )

    listed = uris.list().data
    assert [u.id for u in listed] == [web.id, ios.id]
    assert listed[0] == web

    found = uris.find(web.id)
    assert found.data == web

    # A partial update: the URL alone, then the platform with its settings.
    moved = uris.update(web.id, request_body={"url": "https://example.com/v2/callback"}).data
    assert (moved.id, moved.url, moved.platform) == (web.id, "https://example.com/v2/callback", "web")
    to_js = uris.update(
        web.id, request_body={"platform": "js", "settings": {"origin": "https://example.com"}}
    ).data
    assert to_js.platform == "js"
    assert to_js.url == "https://example.com/v2/callback"
    assert to_js.settings.origin == "https://example.com"
    assert uris.find(web.id).data == to_js

    # `settings` is replaced whole.
    android = uris.create(
        request_body={
            "url": "com.example.app://cb",
            "platform": "android",
            "settings": {"package_name": "com.example.app", "sha1_certificate_fingerprint": "AA:BB"},
        }
    ).data
    replaced = uris.update(android.id, request_body={"settings": {"package_name": "com.example.other"}}).data
    assert replaced.settings == RedirectUriSettings(package_name="com.example.other")

    # The application lists the same URIs as callback_uris.
    info = app.client.applications.info().data
    assert isinstance(info, ApplicationDetails)
    assert info.callback_uris == uris.list().data

    deleted = uris.destroy(web.id)
    assert isinstance(deleted, DeleteResponse)
    assert deleted.request_id
    err = api_error(lambda: uris.find(web.id))
    assert err.status_code == 404
    assert err.type == "api.not_found_error"
    assert api_error(lambda: uris.destroy(web.id)).status_code == 404
    assert [u.id for u in uris.list().data] == [ios.id, android.id]


def test_wire_shape_has_every_field(new_app, mailroom):
    app = new_app()
    created = app.client.applications.redirect_uris.create(request_body={"url": "https://example.com/cb"}).data

    raw = mailroom.raw("GET", f"{PATH}/{created.id}", app.api_key)
    assert raw.status_code == 200
    body = raw.json()
    assert set(body) == {"request_id", "data"}
    assert body["data"] == {"id": created.id, "url": "https://example.com/cb", "platform": "web", "settings": {}}
    assert raw.headers["x-request-id"] == body["request_id"]

    listed = mailroom.raw("GET", PATH, app.api_key).json()
    assert listed["data"] == [body["data"]]
    assert not listed.get("next_cursor"), "one page: nothing for Node to follow"

    posted = mailroom.raw("POST", PATH, app.api_key, json={"url": "https://example.com/other"})
    assert posted.status_code == 200, "Nylas answers this POST with 200"

    deleted = mailroom.raw("DELETE", f"{PATH}/{created.id}", app.api_key)
    assert deleted.status_code == 200
    assert set(deleted.json()) == {"request_id"}


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"platform": "web"}, "'url' is required"),
        ({"url": "/callback"}, "not absolute"),
        ({"url": "https://example.com/cb#section"}, "fragment"),
        ({"url": "myapp://callback"}, "http:// or https://"),
        ({"url": "myapp://callback", "platform": "js"}, "http:// or https://"),
        ({"url": "https://example.com/cb", "platform": "windows"}, "unknown platform"),
        ({"url": "https://example.com/cb", "settings": {"colour": "red"}}, "colour"),
    ],
)
def test_invalid_redirect_uris_are_refused(new_app, body, needle):
    uris = new_app().client.applications.redirect_uris
    err = api_error(lambda: uris.create(request_body=body))
    assert err.status_code == 400
    assert err.type == "api.invalid_request_payload"
    assert needle in str(err), str(err)
    assert uris.list().data == []


def test_duplicates_and_invalid_updates_are_refused(new_app, mailroom):
    app = new_app()
    uris = app.client.applications.redirect_uris
    first = uris.create(request_body={"url": "https://example.com/cb"}).data
    err = api_error(lambda: uris.create(request_body={"url": "https://example.com/cb"}))
    assert err.status_code == 400
    assert "already has" in str(err)

    mobile = uris.create(request_body={"url": "com.example.app://cb", "platform": "ios"}).data
    onto_first = api_error(lambda: uris.update(mobile.id, request_body={"url": first.url}))
    assert onto_first.status_code == 400
    assert "already has" in str(onto_first)
    # The merged result is checked: this URL cannot serve a web platform.
    to_web = api_error(lambda: uris.update(mobile.id, request_body={"platform": "web"}))
    assert to_web.status_code == 400
    fragment = api_error(lambda: uris.update(first.id, request_body={"url": "https://example.com/cb#x"}))
    assert fragment.status_code == 400
    assert uris.find(mobile.id).data == mobile
    assert uris.find(first.id).data == first

    bad_json = mailroom.raw(
        "POST", PATH, app.api_key, data="{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "api.invalid_request_payload"
    assert bad_json.json()["request_id"]


def test_another_applications_redirect_uri_is_not_found(new_app):
    mine = new_app("-mine")
    theirs = new_app("-theirs")
    created = mine.client.applications.redirect_uris.create(request_body={"url": "https://mine.example/cb"}).data
    other = theirs.client.applications.redirect_uris

    for call in (
        lambda: other.find(created.id),
        lambda: other.update(created.id, request_body={"url": "https://theirs.example/cb"}),
        lambda: other.destroy(created.id),
        lambda: mine.client.applications.redirect_uris.find("00000000-0000-4000-8000-000000000000"),
    ):
        err = api_error(call)
        assert err.status_code == 404
        assert err.type == "api.not_found_error"
    assert other.list().data == []
    assert theirs.client.applications.info().data.callback_uris == []
    assert mine.client.applications.redirect_uris.find(created.id).data == created
