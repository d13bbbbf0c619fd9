"""Contacts and events, derived from a mailbox mailroom has synced, read through the
official Nylas Python SDK (nylas==6.18.0), unchanged.

Testbed user 22 gets a few messages by IMAP APPEND: plain mail between people (the
contacts), and invitations as Google and Outlook send them (an inline text/calendar part
with an invite.ics copy, an .ics attachment with a recurring meeting, an all-day event),
an update with a higher SEQUENCE and a cancellation. The point is that the SDK parses
every object: its dataclasses raise on a missing required field or a bad `when`/`source`.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Dict, List

import pytest
from conftest import wait_until
from nylas import Client
from nylas.models.calendars import Calendar
from nylas.models.contacts import Contact, ContactEmail, SourceType
from nylas.models.errors import NylasApiError
from nylas.models.events import Date, Datespan, Event, Time, Timespan
from nylas.models.response import ListResponse, Response

from mailbox_seed import check, imap_login, wipe_user

USER = 22
SYNC_DEADLINE = 60.0

CONTACT_KEYS = {
    "id", "grant_id", "object", "source", "display_name", "given_name", "middle_name",
    "surname", "suffix", "nickname", "birthday", "company_name", "job_title", "manager_name",
    "office_location", "notes", "picture_url", "picture", "emails", "im_addresses",
    "phone_numbers", "physical_addresses", "web_pages", "groups", "metadata",
}
CALENDAR_KEYS = {
    "id", "grant_id", "object", "name", "description", "location", "timezone", "hex_color",
    "hex_foreground_color", "is_primary", "is_owned_by_user", "read_only", "metadata",
    "notetaker",
}
EVENT_KEYS = {
    "id", "grant_id", "calendar_id", "object", "title", "description", "location", "when",
    "busy", "participants", "status", "visibility", "conferencing", "reminders", "recurrence",
    "ical_uid", "html_link", "read_only", "hide_participants", "creator", "organizer",
    "capacity", "master_event_id", "original_start_time", "metadata", "resources",
    "created_at", "updated_at",
}


# --------------------------------------------------------------------------- the mailbox


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def b64_lines(text: str) -> str:
    encoded = base64.b64encode(crlf(text)).decode()
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def plain(message_id: str, date: str, headers: str, subject: str) -> bytes:
    return crlf(
        f"Message-ID: <{message_id}>\nDate: {date}\n{headers}Subject: {subject}\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\nHello.\n"
    )


def review(me: str, sequence: int, dtstamp: str, day: str, title: str) -> str:
    """A design review in Berlin time, as Google Calendar writes it."""
    return (
        "BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\nVERSION:2.0\n"
        "METHOD:REQUEST\nBEGIN:VTIMEZONE\nTZID:Europe/Berlin\nX-LIC-LOCATION:Europe/Berlin\n"
        "BEGIN:DAYLIGHT\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST\nDTSTART:19700329T020000\n"
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT\nBEGIN:STANDARD\nTZOFFSETFROM:+0200\n"
        "TZOFFSETTO:+0100\nTZNAME:CET\nDTSTART:19701025T030000\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\n"
        "END:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\n"
        f"DTSTART;TZID=Europe/Berlin:{day}T140000\nDTEND;TZID=Europe/Berlin:{day}T150000\n"
        f"DTSTAMP:{dtstamp}\nORGANIZER;CN=Grace Hopper:mailto:grace@example.net\n"
        "UID:review-7@google.com\n"
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\n"
        " ;CN=Grace Hopper;X-NUM-GUESTS=0:mailto:grace@example.net\n"
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\n"
        f" TRUE;CN={me};X-NUM-GUESTS=0:mailto:{me}\n"
        "ATTENDEE;PARTSTAT=DECLINED;CN=Linus T:mailto:linus@example.net\n"
        f"SEQUENCE:{sequence}\nSTATUS:CONFIRMED\nSUMMARY:{title}\nLOCATION:Room 1\nTRANSP:OPAQUE\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )


def google_invitation(me: str, message_id: str, date: str, calendar: str, subject: str) -> bytes:
    return crlf(
        f"Message-ID: <{message_id}>\nDate: {date}\nFrom: Grace Hopper <grace@example.net>\n"
        f"To: {me}\nSubject: {subject}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="mixed"\n\n--mixed\n'
        'Content-Type: multipart/alternative; boundary="alt"\n\n--alt\n'
        'Content-Type: text/plain; charset="UTF-8"\n\nYou have been invited.\n--alt\n'
        'Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\n\n'
        f"{calendar}\n--alt--\n--mixed\n"
        'Content-Type: application/ics; name="invite.ics"\n'
        'Content-Disposition: attachment; filename="invite.ics"\n'
        f"Content-Transfer-Encoding: base64\n\n{b64_lines(calendar)}\n--mixed--\n"
    )


def outlook_invitation(me: str) -> bytes:
    calendar = (
        "BEGIN:VCALENDAR\nMETHOD:REQUEST\nPRODID:Microsoft Exchange Server 2010\nVERSION:2.0\n"
        "BEGIN:VTIMEZONE\nTZID:Pacific Standard Time\nBEGIN:STANDARD\nDTSTART:16010101T020000\n"
        "TZOFFSETFROM:-0700\nTZOFFSETTO:-0800\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\n"
        "END:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:-0800\nTZOFFSETTO:-0700\n"
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE\nBEGIN:VEVENT\n"
        'ORGANIZER;CN="Doe, Jane":mailto:jane.doe@contoso.example\n'
        f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{me}\n"
        "UID:040000008200E00074C5B7101A82E0080000000001ONE\nSUMMARY;LANGUAGE=en-US:1:1\n"
        "DTSTART;TZID=Pacific Standard Time:20240108T160000\n"
        "DTEND;TZID=Pacific Standard Time:20240108T163000\n"
        "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO\nCLASS:PRIVATE\nDTSTAMP:20240102T100000Z\n"
        "SEQUENCE:0\nSTATUS:CONFIRMED\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    return crlf(
        "Message-ID: <one-on-one@contoso.example>\nDate: Tue, 02 Jan 2024 10:00:00 +0000\n"
        f'From: "Doe, Jane" <jane.doe@contoso.example>\nTo: {me}\nSubject: 1:1\nMIME-Version: 1.0\n'
        'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nWeekly 1:1.\n'
        '--m\nContent-Type: text/calendar; method=REQUEST; name="meeting.ics"\n'
        'Content-Disposition: attachment; filename="meeting.ics"\nContent-Transfer-Encoding: base64\n\n'
        f"{b64_lines(calendar)}\n--m--\n"
    )


def office_calendar(me: str, method: str, sequence: int) -> bytes:
    """The office's two-day party, a closed day and a deadline (an instant); or the
    party's cancellation."""
    party = (
        f"BEGIN:VEVENT\nUID:party-2024@example.net\nSEQUENCE:{sequence}\n"
        f"DTSTAMP:2024060{sequence + 1}T080000Z\nDTSTART;VALUE=DATE:20240705\n"
        "DTEND;VALUE=DATE:20240707\nSUMMARY:Summer party\nTRANSP:TRANSPARENT\nEND:VEVENT\n"
    )
    deadline = (
        "BEGIN:VEVENT\nUID:deadline-q3@example.net\nDTSTAMP:20240601T080000Z\n"
        "DTSTART:20240930T170000Z\nSUMMARY:Q3 report due\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:closed-2024-08-15@example.net\nDTSTAMP:20240601T080000Z\n"
        "DTSTART;VALUE=DATE:20240815\nSUMMARY:Office closed\nEND:VEVENT\n"
    )
    body = party + (deadline if method == "REQUEST" else "")
    calendar = f"BEGIN:VCALENDAR\nMETHOD:{method}\n{body}END:VCALENDAR\n"
    return crlf(
        f"Message-ID: <office-{method.lower()}@example.net>\n"
        f"Date: Sat, 0{sequence + 1} Jun 2024 08:00:00 +0000\n"
        f"From: Office <office@example.net>\nTo: {me}\nSubject: Office calendar ({method})\n"
        f"MIME-Version: 1.0\nContent-Type: text/calendar; method={method}; charset=utf-8\n\n{calendar}"
    )


@dataclass
class Derived:
    nylas: Client
    mailroom: object
    api_key: str
    grant_id: str
    me: str

    def raw(self, path: str, **params):
        return self.mailroom.raw("GET", f"/v3/grants/{self.grant_id}{path}", self.api_key, params=params)




@pytest.fixture(scope="module")
def derived(mailroom, testbed) -> Derived:
    """User 22 wiped and given its mail, a grant on it, and its initial sync complete."""
    wipe_user(USER)
    me = testbed.email(USER)
    messages = [
        ("INBOX", plain("p1@example.net", "Mon, 04 Mar 2024 09:00:00 +0000",
                        f"From: Ada Lovelace <ada@example.net>\nTo: Me <{me}>\n"
                        "Cc: Charles Babbage <charles@example.net>\n", "Engines")),
        ("INBOX", plain("p2@example.net", "Tue, 05 Mar 2024 09:00:00 +0000",
                        f"From: charles@example.net\nTo: {me}, Countess <ADA@example.net>\n", "Re: Engines")),
        ("Sent", plain("p3@example.test", "Wed, 06 Mar 2024 09:00:00 +0000",
                       f"From: {me}\nTo: Ludwig van Beethoven <ludwig@example.net>\n", "Music")),
        ("INBOX", google_invitation(me, "review-1@google.com", "Fri, 01 Mar 2024 12:00:00 +0000",
                                    review(me, 0, "20240301T120000Z", "20240320", "Design review"),
                                    "Invitation: Design review")),
        ("INBOX", google_invitation(me, "review-2@google.com", "Sat, 02 Mar 2024 12:00:00 +0000",
                                    review(me, 1, "20240302T120000Z", "20240321", "Design review (moved)"),
                                    "Updated invitation: Design review")),
        ("INBOX", outlook_invitation(me)),
        ("INBOX", office_calendar(me, "REQUEST", 0)),
        ("INBOX", office_calendar(me, "CANCEL", 1)),
    ]
    imap = imap_login(testbed, USER)
    try:
        for folder, raw in messages:
            check(imap.append(folder, "(\\Seen)", None, raw), f"APPEND to {folder}")
    finally:
        imap.logout()

    app = mailroom.create_app("sdk-python-contacts-events")
    app.client.connectors.create(request_body={"provider": "imap"})
    grant = app.client.auth.custom_authentication(
        {"provider": "imap", "settings": testbed.imap_settings(USER)}
    ).data

    def synced():
        raw = mailroom.raw("GET", f"/v3/grants/{grant.id}", app.api_key)
        assert raw.status_code == 200, raw.text
        data = raw.json()["data"]
        progress = data.get("sync_progress") or {}
        done = data.get("sync_state") == "running" and progress.get("bodies_synced") == len(messages)
        return done, progress

    wait_until("the initial sync with bodies", synced, SYNC_DEADLINE)
    return Derived(app.client, mailroom, app.api_key, grant.id, me)


def calendar_id(d: Derived) -> str:
    calendars = d.nylas.calendars.list(d.grant_id).data
    assert len(calendars) == 1
    return calendars[0].id


def list_events(d: Derived, **query) -> List[Event]:
    response = d.nylas.events.list(d.grant_id, query_params={"calendar_id": calendar_id(d), **query})
    assert isinstance(response, ListResponse)
    assert all(isinstance(e, Event) for e in response.data)
    return response.data


def by_title(events: List[Event]) -> Dict[str, Event]:
    return {e.title: e for e in events}


# --------------------------------------------------------------------------- contacts


def test_contacts_list_parses_and_holds_everyone_but_the_grant(derived):
    response = derived.nylas.contacts.list(derived.grant_id)
    assert isinstance(response, ListResponse)
    contacts = response.data
    assert all(isinstance(c, Contact) for c in contacts)
    emails = sorted(c.emails[0].email.lower() for c in contacts)
    assert emails == [
        "ada@example.net", "charles@example.net", "grace@example.net", "jane.doe@contoso.example",
        "ludwig@example.net", "office@example.net",
    ]
    for contact in contacts:
        assert contact.grant_id == derived.grant_id
        assert contact.object == "contact"
        assert contact.source == SourceType.INBOX
        assert isinstance(contact.emails[0], ContactEmail)
        assert contact.phone_numbers == [] and contact.groups == []
    named = {c.emails[0].email.lower(): c for c in contacts}
    # Ada's own name in From beats "Countess", which another gave her later.
    ada = named["ada@example.net"]
    assert (ada.display_name, ada.given_name, ada.surname) == ("Ada Lovelace", "Ada", "Lovelace")
    # Charles named himself nowhere: the name Ada gave him in Cc stands.
    assert named["charles@example.net"].display_name == "Charles Babbage"
    ludwig = named["ludwig@example.net"]
    assert (ludwig.given_name, ludwig.surname) == ("Ludwig", "van Beethoven")
    jane = named["jane.doe@contoso.example"]
    assert (jane.display_name, jane.given_name, jane.surname) == ("Doe, Jane", "Jane", "Doe")


def test_contacts_filters_and_paging(derived):
    found = derived.nylas.contacts.list(derived.grant_id, query_params={"email": "ADA@example.net"}).data
    assert [c.emails[0].email for c in found] == ["ada@example.net"]
    assert derived.nylas.contacts.list(derived.grant_id, query_params={"source": "address_book"}).data == []
    assert len(derived.nylas.contacts.list(derived.grant_id, query_params={"source": "inbox"}).data) == 6
    seen, token = [], None
    while True:
        query = {"limit": 4, **({"page_token": token} if token else {})}
        page = derived.nylas.contacts.list(derived.grant_id, query_params=query)
        assert len(page.data) <= 4
        seen += [c.id for c in page.data]
        token = page.next_cursor
        if not token:
            break
    assert len(seen) == len(set(seen)) == 6


def test_contacts_find_and_groups(derived):
    listed = derived.nylas.contacts.list(derived.grant_id, query_params={"email": "grace@example.net"}).data
    assert len(listed) == 1
    response = derived.nylas.contacts.find(derived.grant_id, listed[0].id)
    assert isinstance(response, Response) and isinstance(response.data, Contact)
    assert response.data == listed[0]
    assert derived.nylas.contacts.list_groups(derived.grant_id).data == []
    with pytest.raises(NylasApiError) as error:
        derived.nylas.contacts.find(derived.grant_id, "no-such-contact")
    assert error.value.status_code == 404


def test_contacts_serialize_every_documented_field(derived):
    raw = derived.raw("/contacts")
    assert raw.status_code == 200
    for contact in raw.json()["data"]:
        assert CONTACT_KEYS <= set(contact), CONTACT_KEYS - set(contact)
    selected = derived.raw("/contacts", select="display_name").json()["data"][0]
    assert set(selected) == {"id", "grant_id", "object", "display_name"}


# --------------------------------------------------------------------------- calendars


def test_one_read_only_calendar(derived):
    response = derived.nylas.calendars.list(derived.grant_id)
    assert isinstance(response, ListResponse)
    (calendar,) = response.data
    assert isinstance(calendar, Calendar)
    assert calendar.grant_id == derived.grant_id
    assert calendar.name == derived.me
    assert calendar.read_only is True and calendar.is_primary is True and calendar.is_owned_by_user is True
    for name in ("primary", calendar.id):
        found = derived.nylas.calendars.find(derived.grant_id, name)
        assert isinstance(found.data, Calendar) and found.data.id == calendar.id
    raw = derived.raw("/calendars").json()["data"][0]
    assert CALENDAR_KEYS <= set(raw), CALENDAR_KEYS - set(raw)
    with pytest.raises(NylasApiError) as error:
        derived.nylas.calendars.find(derived.grant_id, "not-a-calendar")
    assert error.value.status_code == 404


# --------------------------------------------------------------------------- events


def test_events_parse_with_every_kind_of_when(derived):
    events = by_title(list_events(derived))
    assert set(events) == {"Design review (moved)", "1:1", "Q3 report due", "Office closed"}
    review = events["Design review (moved)"]
    assert isinstance(review.when, Timespan)
    # 14:00-15:00 in Berlin on 21 March 2024 (winter time, UTC+1).
    assert (review.when.start_time, review.when.end_time) == (1711026000, 1711029600)
    assert review.when.start_timezone == "Europe/Berlin"
    assert review.ical_uid == "review-7@google.com"
    assert review.status == "confirmed" and review.busy is True and review.read_only is True
    assert review.organizer == {"name": "Grace Hopper", "email": "grace@example.net"}
    assert [(p.email, p.status) for p in review.participants] == [
        ("grace@example.net", "yes"), (derived.me, "noreply"), ("linus@example.net", "no"),
    ]
    one_on_one = events["1:1"]
    # Outlook's "Pacific Standard Time" is Los Angeles: 16:00 PST is 00:00 UTC.
    assert one_on_one.when.start_time == 1704758400
    assert one_on_one.when.start_timezone == "America/Los_Angeles"
    assert one_on_one.recurrence == ["RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO"]
    assert one_on_one.visibility == "private"
    deadline = events["Q3 report due"]
    assert isinstance(deadline.when, Time) and deadline.when.time == 1727715600
    closed = events["Office closed"]
    assert isinstance(closed.when, Date) and closed.when.date == "2024-08-15"
    # The cancelled party is listed only on request, as an all-day span.
    cancelled = by_title(list_events(derived, show_cancelled=True))
    party = cancelled["Summer party"]
    assert party.status == "cancelled"
    assert isinstance(party.when, Datespan)
    assert (party.when.start_date, party.when.end_date) == ("2024-07-05", "2024-07-06")
    assert party.busy is False


def test_events_filters(derived):
    march = list_events(derived, start=1711000000, end=1711100000)
    assert [e.title for e in march] == ["Design review (moved)"]
    assert [e.title for e in list_events(derived, title="REVIEW")] == ["Design review (moved)"]
    assert [e.title for e in list_events(derived, ical_uid="deadline-q3@example.net")] == ["Q3 report due"]
    page = derived.nylas.events.list(
        derived.grant_id, query_params={"calendar_id": "primary", "limit": 2}
    )
    assert len(page.data) == 2 and page.next_cursor
    rest = derived.nylas.events.list(
        derived.grant_id, query_params={"calendar_id": "primary", "limit": 2, "page_token": page.next_cursor}
    )
    assert len(rest.data) == 2 and not rest.next_cursor
    # Listed by start.
    assert [e.title for e in page.data + rest.data] == [
        "1:1", "Design review (moved)", "Office closed", "Q3 report due",
    ]


def test_events_find_and_the_calendar_id_they_require(derived):
    listed = list_events(derived, title="review")
    response = derived.nylas.events.find(derived.grant_id, listed[0].id, query_params={"calendar_id": "primary"})
    assert isinstance(response, Response) and isinstance(response.data, Event)
    assert response.data == listed[0]
    raw = derived.raw(f"/events/{listed[0].id}", calendar_id="primary").json()["data"]
    assert EVENT_KEYS <= set(raw), EVENT_KEYS - set(raw)
    assert raw["when"]["object"] == "timespan"
    with pytest.raises(NylasApiError) as error:
        derived.nylas.events.list(derived.grant_id, query_params={})
    assert error.value.status_code == 400
    with pytest.raises(NylasApiError) as error:
        derived.nylas.events.find(derived.grant_id, "no-such-event", query_params={"calendar_id": "primary"})
    assert error.value.status_code == 404

