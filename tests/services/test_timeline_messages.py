"""message_document: the stored shape of an Odoo chatter message, built in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.schemas.chatter import sanitize_html
from app.schemas.timeline import MessageDocument, MessageRead
from app.services.timeline import message_document

POSTED = datetime(2026, 1, 15, 14, 30, 0, 123456, tzinfo=UTC)


def test_document_has_the_shared_keys_and_reads_back_as_a_message():
    doc = message_document(
        external_id=501,
        res_model="crm.lead",
        res_id=9,
        record_name="ACME deal",
        date=POSTED,
        message_type="email",
        subtype="Discussions",
        author_id=12,
        author_name="Zakariya",
        author_uid=7,
        email_from="zak@example.com",
        subject="Re: pricing",
        body="<p>Customer interested in <b>premium</b></p>",
        updated_at=POSTED + timedelta(minutes=5),
    )
    assert set(doc) == set(MessageDocument.__annotations__)
    assert doc["id"] == "odoo_message_501" and doc["source"] == "odoo"
    assert doc["res_id"] == "9" and doc["author_id"] == "12"
    assert doc["related"] == {"model": "crm.lead", "id": "9", "name": "ACME deal"}
    assert doc["user_id"] == "odoo:7"
    # Milliseconds, aware UTC: what MongoDB stores, so cursors equal stored values.
    assert doc["date"] == doc["occurred_at"] == datetime(2026, 1, 15, 14, 30, 0, 123000, UTC)
    assert doc["updated_at"] == datetime(2026, 1, 15, 14, 35, 0, 123000, UTC)
    assert doc["body_text"] == "Customer interested in premium"
    assert "type" not in doc  # what tells a message from an activity in a mixed query
    read = MessageRead.model_validate(doc)
    assert read.author_name == "Zakariya" and read.message_type == "email"


def test_defaults_for_a_system_message():
    doc = message_document(
        external_id=1,
        res_model="crm.lead",
        res_id="9",
        date=datetime(2026, 1, 15, 18, 30, tzinfo=timezone(timedelta(hours=4))),
        message_type="notification",
        body=None,
        author_id=None,
        record_name="",
    )
    assert doc["author_name"] == "System" and doc["author_id"] is None
    assert doc["user_id"] is None and doc["record_name"] is None
    assert doc["body"] == "" and doc["body_text"] == ""
    assert doc["date"] == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    assert doc["updated_at"] == doc["date"]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        message_document(
            external_id=1,
            res_model="crm.lead",
            res_id=9,
            date=datetime(2026, 1, 15, 14, 30),
            message_type="comment",
            body="x",
        )


def body(html: str, **fields: Any) -> MessageDocument:
    return message_document(
        external_id=1,
        res_model="crm.lead",
        res_id=9,
        date=POSTED,
        message_type="comment",
        body=html,
        **fields,
    )


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<p>hi</p><script>alert(1)</script>", ["<script", "alert"]),
        ("<style>p{color:red}</style><p>hi</p>", ["<style", "color:red"]),
        ('<iframe src="https://evil.example"></iframe><p>hi</p>', ["<iframe", "evil"]),
        ('<p onclick="steal()" onmouseover="x()">hi</p>', ["onclick", "onmouseover", "steal"]),
        ('<a href="javascript:alert(1)">hi</a>', ["javascript:"]),
        ('<img src="x" onerror="alert(1)">hi', ["onerror"]),
    ],
)
def test_the_stored_body_is_sanitized_whoever_builds_it(html, forbidden):
    doc = body(html)
    for bad in forbidden:
        assert bad not in doc["body"] and bad not in doc["body_text"]
    assert "hi" in doc["body"] and doc["body_text"] == "hi"
    assert body(doc["body"])["body"] == doc["body"]  # idempotent


def test_plain_text_is_derived_unless_given():
    html = "<p>Hello&nbsp;<b>Sara</b>,</p><p>Price: 10 &lt; 20 &amp; more<br>Thanks</p>"
    assert body(html)["body_text"] == "Hello Sara, Price: 10 < 20 & more Thanks"
    assert body(html, body_text="given")["body_text"] == "given"


def test_a_message_on_no_record_has_no_related():
    doc = message_document(
        external_id=2, res_model=None, res_id=None, date=POSTED, message_type="email", body="x"
    )
    assert doc["related"] is None and doc["res_model"] is None and doc["res_id"] is None
    assert MessageRead.model_validate(doc).res_id is None


def test_only_the_sanitizers_own_output_is_stored_without_cleaning():
    hostile = '<p onclick="steal()">hi</p><script>alert(1)</script>'

    class LooksClean(str):
        pass

    for untrusted in (hostile, LooksClean(hostile)):
        assert body(untrusted)["body"] == "<p>hi</p>"
    clean = sanitize_html(hostile)  # what the connector hands the sync
    stored = body(clean)["body"]
    assert stored == "<p>hi</p>" and type(stored) is str  # stored as a plain string
