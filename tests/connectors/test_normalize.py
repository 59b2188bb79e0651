"""Every Odoo quirk normalised once: False, many2one, naive datetimes, done activities, HTML."""

from __future__ import annotations

import xmlrpc.client
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.connectors.odoo import OdooClient, OdooProtocolError
from app.connectors.odoo.normalize import (
    DEFAULT_ACTIVITY_TYPE_MAP,
    OdooActivityType,
    fields_for,
    html_to_text,
    index_activity_types,
    normalize_activity,
    normalize_activity_type,
    normalize_lead,
    normalize_message,
    normalize_partner,
    normalize_user,
    parse_odoo_datetime,
    resolve_activity_kind,
    sanitize_html,
)
from app.services.sync.pages import id_pages
from tests.connectors.conftest import ClientFactory
from tests.odoo_sim import HOSTILE_BODIES, OdooSim

TYPES = index_activity_types(
    normalize_activity_type(
        {"id": i, "name": n, "category": c, "write_date": "2026-01-01 00:00:00"}
    )
    for i, n, c in [(1, "Email", "default"), (2, "Call", "phonecall"), (4, "To-Do", "default")]
)


def activity(**values: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": 42,
        "activity_type_id": [2, "Call"],
        "summary": "Follow up call",
        "note": "<p>Ask about the <b>budget</b></p>",
        "date_deadline": "2026-01-20",
        "user_id": [7, "Zakariya"],
        "res_model": "crm.lead",
        "res_id": 9,
        "res_name": "TEST VM",
        "create_date": "2026-01-12 02:09:00",
        "write_date": "2026-01-13 23:26:05",
        "active": True,
        "date_done": False,
    }
    raw.update(values)
    return raw


def message(**values: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": 501,
        "model": "crm.lead",
        "res_id": 9,
        "record_name": "TEST VM",
        "date": "2026-01-15 14:30:00",
        "message_type": "comment",
        "subtype_id": [1, "Discussions"],
        "author_id": [7, "Zakariya"],
        "email_from": False,
        "subject": False,
        "body": "<p>Customer interested in premium package</p>",
        "write_date": "2026-01-15 14:30:00",
    }
    raw.update(values)
    return raw


def test_activity_quirks_are_normalised() -> None:
    result = normalize_activity(activity(), TYPES)

    assert result.activity_type == "call"
    assert (result.odoo_type_id, result.odoo_type_name) == (2, "Call")
    assert result.subject == "Follow up call"
    assert result.description == "Ask about the budget"
    assert (result.user_id, result.user_name) == ("odoo:7", "Zakariya")
    assert result.due_date == date(2026, 1, 20)
    assert result.done is False and result.completed_at is None
    assert (result.related_model, result.related_id, result.related_name) == (
        "crm.lead",
        "9",
        "TEST VM",
    )
    assert result.created_at == datetime(2026, 1, 12, 2, 9, tzinfo=UTC)
    assert result.updated_at == datetime(2026, 1, 13, 23, 26, 5, tzinfo=UTC)


def test_activity_empty_values_become_none() -> None:
    result = normalize_activity(
        activity(
            summary=False,
            note=False,
            date_deadline=False,
            user_id=False,
            res_model=False,
            res_id=0,
            res_name=False,
        ),
        TYPES,
    )

    assert result.subject == "Call"  # the type's name when there is no summary
    assert result.description is None
    assert result.due_date is None
    assert result.user_id is None and result.user_name is None
    assert result.related_model is None and result.related_id is None


def test_activity_subject_falls_back_and_is_truncated() -> None:
    no_type = normalize_activity(activity(summary="  ", activity_type_id=False), TYPES)
    long = normalize_activity(activity(summary="x" * 300), TYPES)

    assert no_type.subject == "Activity" and no_type.activity_type == "task"
    assert len(long.subject) == 128


def test_archived_done_activity() -> None:
    done = normalize_activity(activity(active=False, date_done="2026-01-14"), TYPES)
    archived_only = normalize_activity(activity(active=False, date_done=False), TYPES)

    assert done.done is True
    assert done.completed_at == datetime(2026, 1, 14, tzinfo=UTC)
    assert archived_only.done is True
    assert archived_only.completed_at == archived_only.updated_at


def test_odoo_16_activity_without_active_field_is_open() -> None:
    raw = activity()
    del raw["active"], raw["date_done"]

    assert normalize_activity(raw, TYPES).done is False


@pytest.mark.parametrize(
    ("name", "category", "kind"),
    [
        ("Call", "phonecall", "call"),
        ("Anything", "meeting", "meeting"),
        ("Upload Document", "upload_file", "task"),
        ("Email", "default", "email"),
        ("Send mail", None, "email"),
        ("WhatsApp Message", "default", "whatsapp"),
        ("Phone CALL back", None, "call"),
        ("Client Meeting", "default", "meeting"),
        ("Note", None, "note"),
        ("Trade show event", None, "event"),
        ("To-Do", "default", "task"),
        (None, None, "task"),
    ],
)
def test_activity_kind_by_category_then_name(
    name: str | None, category: str | None, kind: str
) -> None:
    assert resolve_activity_kind(name, category) == kind


def test_activity_kind_map_is_configurable() -> None:
    custom = {"visite": "meeting", **DEFAULT_ACTIVITY_TYPE_MAP}
    types = {9: normalize_activity_type({"id": 9, "name": "Visite client"}, custom)}

    assert types[9].activity_type == "meeting"
    assert normalize_activity(
        activity(activity_type_id=[9, "Visite client"]), types
    ).activity_type == ("meeting")
    # a type the lookup does not know is classified by its name
    unknown = normalize_activity(activity(activity_type_id=[77, "Visite"]), {}, custom)
    assert unknown.activity_type == "meeting"


def test_message_quirks_and_system_author() -> None:
    authored = normalize_message(message())
    system = normalize_message(
        message(author_id=False, message_type="notification", subtype_id=False, body=False)
    )

    assert (authored.author_id, authored.author_name) == ("7", "Zakariya")
    assert (authored.res_model, authored.res_id, authored.subtype) == (
        "crm.lead",
        "9",
        "Discussions",
    )
    assert authored.date == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    assert authored.body_text == "Customer interested in premium package"
    assert system.author_id is None and system.author_name == "System"
    assert system.subtype is None and system.body == "" and system.body_text == ""


def test_datetimes_in_every_shape_become_aware_utc() -> None:
    expected = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)

    assert parse_odoo_datetime("2026-01-15 14:30:00") == expected
    assert parse_odoo_datetime("2026-01-15 14:30:00.123456") == expected.replace(microsecond=123456)
    assert parse_odoo_datetime(datetime(2026, 1, 15, 14, 30)) == expected
    assert parse_odoo_datetime(xmlrpc.client.DateTime("20260115T14:30:00")) == expected
    assert parse_odoo_datetime(False) is None
    assert normalize_message(message(date=xmlrpc.client.DateTime("20260115T14:30:00"))).date == (
        expected
    )


def test_lead_user_partner() -> None:
    lead = normalize_lead(
        {
            "id": 9,
            "name": "TEST VM",
            "partner_id": False,
            "partner_name": "SUPREME JUDICIARY COUNCIL",
            "user_id": [7, "Zakariya"],
            "stage_id": [2, "Qualified"],
            "type": "opportunity",
            "expected_revenue": 0.0,
            "probability": False,
            "active": True,
            "write_date": "2026-01-13 23:26:05",
        }
    )
    user = normalize_user(
        {"id": 7, "name": "Zakariya", "login": "z@example.com", "email": False, "tz": False,
         "partner_id": [12, "Zakariya"], "active": True, "write_date": "2026-01-01 00:00:00"}
    )  # fmt: skip
    partner = normalize_partner(
        {"id": 12, "name": "Zakariya", "email": "z@example.com", "phone": False,
         "is_company": False, "parent_id": [3, "Deco Addict"], "active": False,
         "write_date": "2026-01-01 00:00:00"}
    )  # fmt: skip

    assert (lead.partner_id, lead.partner_name, lead.stage) == (
        None,
        "SUPREME JUDICIARY COUNCIL",
        "Qualified",
    )
    assert (lead.user_id, lead.expected_revenue, lead.probability) == ("odoo:7", 0.0, None)
    assert (user.user_id, user.email, user.tz, user.partner_id) == ("odoo:7", None, None, "12")
    assert (partner.parent_id, partner.phone, partner.active) == ("3", None, False)


@pytest.mark.parametrize(
    "raw",
    [
        {"write_date": "2026-01-01 00:00:00"},
        {"id": 1, "write_date": False},
        {"id": 1, "write_date": "yesterday"},
        {"id": "1", "write_date": "2026-01-01 00:00:00"},
    ],
)
def test_malformed_record_is_a_protocol_error_naming_it(raw: dict[str, object]) -> None:
    with pytest.raises(OdooProtocolError, match="malformed mail.message record"):
        normalize_message(raw)


XSS_CORPUS = [
    "<script>alert(1)</script><p>ok</p>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<svg onload="alert(1)"><circle/></svg>',
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<form action="https://evil.example"><input name="pw"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<div onmouseover="alert(1)">hover</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<p>unclosed <b>bold <i>italic <a href='https://ok.example'>link",
    "<<script>alert(1)//<</script>",
    "<!--<script>alert(1)</script>-->",
    *HOSTILE_BODIES,
]


@pytest.mark.parametrize("hostile", XSS_CORPUS)
def test_html_sanitizer_defuses_the_xss_corpus(hostile: str) -> None:
    cleaned = sanitize_html(hostile).lower()
    text = html_to_text(hostile).lower()

    for forbidden in ("<script", "<style", "<iframe", "<svg", "<object", "<embed", "<form",
                      "<meta", "<base", "<math", "javascript:", "data:", "onerror", "onload",
                      "onclick", "onmouseover", "style="):  # fmt: skip
        assert forbidden not in cleaned
    assert "alert(1)" not in text or "<" not in text  # script bodies are gone from the text too


def test_html_sanitizer_keeps_formatting_and_safe_links() -> None:
    source = (
        "<h2>Offer</h2><p>Hello <b>bold</b> <em>em</em> <u>u</u><br>next</p>"
        "<ul><li>one</li></ul><blockquote>quoted</blockquote>"
        '<a href="https://example.com/x" title="t" target="_blank">link</a>'
        '<a href="mailto:sales@example.com">mail</a>'
        '<img src="cid:logo@odoo" alt="logo"><table><tr><td colspan="2">cell</td></tr></table>'
        "<pre><code>x = 1</code></pre>"
    )

    cleaned = sanitize_html(source)

    for kept in ("<h2>", "<b>bold</b>", "<em>", "<u>", "<br>", "<li>one</li>", "<blockquote>",
                 'href="https://example.com/x"', 'title="t"', 'href="mailto:sales@example.com"',
                 'src="cid:logo@odoo"', 'alt="logo"', 'colspan="2"', "<pre><code>"):  # fmt: skip
        assert kept in cleaned
    assert "target=" not in cleaned
    assert html_to_text(source) == "Offer Hello bold em u next one quoted linkmail cell x = 1"


def test_body_text_unescapes_entities_and_collapses_whitespace() -> None:
    assert html_to_text("<p>Caf&eacute;   &amp;\n\n lunch &lt;ok&gt;</p><p>next</p>") == (
        "Café & lunch <ok> next"
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "</script>",
                "<img src=x onerror=alert(1)>",
                '<a href="javascript:x">',
                "<svg onload=x>",
                "<p>",
                "</p>",
                "text",
                "&lt;",
                "<style>",
                "</style>",
                "<",
                ">",
                '"',
                "'",
                "=",
                " on",
                "click",
                "<iframe>",
                "javascript:",
                "<b>",
            ]  # fmt: skip
        ),
        max_size=25,
    ).map("".join)
)
def test_sanitizer_output_never_carries_active_content(fragment: str) -> None:
    cleaned = sanitize_html(fragment).lower()

    assert "<script" not in cleaned and "<svg" not in cleaned and "<iframe" not in cleaned
    assert "onerror" not in cleaned and "onload" not in cleaned
    assert 'href="javascript:' not in cleaned


@pytest.mark.parametrize("sim", [16, 17, 19], indirect=True)
async def test_every_simulated_record_normalises(sim: OdooSim, connect: ClientFactory) -> None:
    client: OdooClient = await connect()
    major = (await client.server_version()).major

    async def fetch(model: str) -> list[dict[str, object]]:
        return [
            row
            async for page in id_pages(client, model, [], fields_for(model, major), page_size=200)
            for row in page
        ]

    types: dict[int, OdooActivityType] = index_activity_types(
        normalize_activity_type(row) for row in await fetch("mail.activity.type")
    )
    activities = [normalize_activity(row, types) for row in await fetch("mail.activity")]
    messages = [normalize_message(row) for row in await fetch("mail.message")]
    leads = [normalize_lead(row) for row in await fetch("crm.lead")]
    users = [normalize_user(row) for row in await fetch("res.users")]
    partners = [normalize_partner(row) for row in await fetch("res.partner")]

    assert len(activities) == len(sim.table("mail.activity"))
    assert len(messages) == len(sim.table("mail.message"))
    assert any(a.due_date is None for a in activities)
    assert {a.activity_type for a in activities} >= {"email", "call", "meeting", "task"}
    assert any(a.done and a.completed_at for a in activities) == (major >= 17)
    assert any(m.author_name == "System" and m.author_id is None for m in messages)
    assert all("<script" not in m.body and "onerror" not in m.body for m in messages)
    assert all(m.updated_at.tzinfo is UTC for m in messages)
    assert any(not lead.active for lead in leads) and users and partners


# Fragments of HTML as chatter holds it and as attackers write it: tags with and without
# attributes, entities, comments, CDATA, stray `<`/`>`, quotes, control and non-ASCII characters.
_TEXT_BITS = [*"ab <>&;\"'=/\r\n\t\x00\xa0é€", "&amp;", "&lt;", "&nbsp;", "&#60;", "&rarr;"]
_TEXT_BITS += ["<!--", "-->", "<![CDATA[", "]]>", "&bogus;", "&#x3c;"]
_texts = st.lists(st.sampled_from(_TEXT_BITS), max_size=12).map("".join)
_TAGS = ["p", "br", "b", "div", "span", "a", "img", "script", "style", "td", "tr", "table", "li"]
_TAGS += ["ul", "h1", "pre", "code", "x-y", "svg", "iframe", "textarea", "title"]


def _tag(name: str, attrs: list[tuple[str, str]], closing: bool) -> str:
    return f"</{name}>" if closing else f"<{name}{''.join(f' {k}={v!r}' for k, v in attrs)}>"


_attrs = st.lists(
    st.tuples(st.sampled_from(["href", "title", "src", "alt", "onclick", "colspan"]), _texts),
    max_size=2,
)
_html = st.lists(
    st.one_of(_texts, st.builds(_tag, st.sampled_from(_TAGS), _attrs, st.booleans())), max_size=12
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(raw=_html)
def test_plain_text_of_sanitized_html_is_what_a_second_parse_gives(raw: str) -> None:
    clean = sanitize_html(raw)
    # A plain str takes the parser's path; the sanitizer's own output may take a shortcut.
    assert html_to_text(clean) == html_to_text(str(clean))


def test_an_activity_kind_outside_the_contract_is_a_protocol_error() -> None:
    with pytest.raises(OdooProtocolError, match="unknown kind 'lunch'"):
        normalize_activity(activity(activity_type_id=[77, "Visite"]), {}, {"visite": "lunch"})  # type: ignore[dict-item]
