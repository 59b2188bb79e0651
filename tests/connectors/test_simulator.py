"""The simulator behaves and costs like Odoo (docs/ODOO.md): what the sync's tests and the
benchmark measure is only as good as this."""

from __future__ import annotations

import pytest

from tests.odoo_sim import OdooSim

ALL = {"active_test": False}


@pytest.fixture
def sim() -> OdooSim:
    return OdooSim.generate(activities=200, messages=600, seed=3, version=17)


def test_an_unindexed_domain_or_order_examines_the_whole_table(sim: OdooSim) -> None:
    messages = len(sim.table("mail.message"))

    sim.search_read("mail.message", [("write_date", ">=", "2026-01-19 00:00:00")], ["id"],
                    limit=10, order="write_date asc, id asc", context=ALL)  # fmt: skip
    sim.search_count("mail.message", [], context=ALL)

    assert sim.examined() == 2 * messages


def test_id_ranges_lists_and_reads_examine_what_they_walk(sim: OdooSim) -> None:
    ids = sorted(sim.table("mail.message"))

    page = sim.search_read(
        "mail.message", [("id", ">", ids[99])], ["id"], limit=50, order="id asc", context=ALL
    )
    assert [row["id"] for row in page] == ids[100:150]
    assert sim.examined() == 50
    sim.reset_calls()

    sim.search_read("mail.message", [("id", "in", ids[:30])], ["id"], context=ALL)
    sim.read("mail.message", ids[:20], ["id"], context=ALL)
    assert sim.examined() == 30 + 20
    sim.reset_calls()

    # a filter on top of an id range: the rows walked to fill the page are examined
    chatter = sim.search_read(
        "mail.message",
        [("id", ">", 0), ("message_type", "=", "comment")],
        ["id"],
        limit=10,
        order="id asc",
        context=ALL,
    )
    assert sim.examined() == ids.index(chatter[-1]["id"]) + 1
    sim.reset_calls()

    # a record's chatter through Odoo's (model, res_id) index: the rows of those records
    leads = sorted(sim.table("crm.lead"))[:3]
    on_leads = sim.search_read(
        "mail.message",
        [("model", "in", ["crm.lead"]), ("res_id", "in", leads), ("message_type", "!=", "x")],
        ["id"],
        order="id asc",
        context=ALL,
    )
    expected = [
        mid
        for mid, row in sorted(sim.table("mail.message").items())
        if row["model"] == "crm.lead" and row["res_id"] in leads
    ]
    assert [row["id"] for row in on_leads] == expected
    assert sim.examined() == len(expected)


def test_a_transaction_stamps_its_start_and_commits_late(sim: OdooSim) -> None:
    lead = next(iter(sim.table("crm.lead")))
    tx = sim.transaction()
    started = tx.stamp
    new_id = tx.create("mail.message", {"model": "crm.lead", "res_id": lead, "body": "<p>x</p>"})
    tx.edit("crm.lead", lead, name="Imported")
    sim.advance(120)
    other = sim.create("mail.message", {"model": "crm.lead", "res_id": lead})
    assert new_id not in sim.table("mail.message")  # not visible before the commit

    tx.commit()

    assert sim.table("mail.message")[new_id]["write_date"] == started
    assert sim.table("crm.lead")[lead]["write_date"] == started
    assert sim.table("mail.message")[other]["write_date"] > started
    assert new_id < other  # ids are taken when the transaction writes, not at commit


@pytest.mark.parametrize("version", [16, 17])
def test_marking_done_posts_the_message_and_keeps_only_keep_done_types(version: int) -> None:
    sim = OdooSim.generate(activities=100, messages=10, seed=3, version=version)
    activities = sim.table("mail.activity")
    call = next(a for a, row in activities.items() if row["activity_type_id"][0] == 2)
    email = next(a for a, row in activities.items() if row["activity_type_id"][0] == 1)
    record = activities[email]["res_model"], activities[email]["res_id"]

    message_id = sim.mark_done(email, feedback="Sent the offer")
    sim.mark_done(call)

    message = sim.table("mail.message")[message_id]
    assert (message["model"], message["res_id"]) == record
    assert message["message_type"] == "notification"
    assert message["mail_activity_type_id"] == [1, "Email"]
    assert "Email done" in message["body"] and "Sent the offer" in message["body"]
    assert email not in activities  # deleted: its type does not keep done activities
    if version >= 17:
        assert activities[call]["active"] is False and activities[call]["date_done"]
    else:
        assert call not in activities  # Odoo 16 deletes every done activity


def test_deleting_a_lead_takes_its_activities_and_chatter_without_a_trace(sim: OdooSim) -> None:
    lead = next(
        lid
        for lid in sim.table("crm.lead")
        if any(r["res_id"] == lid for r in sim.table("mail.activity").values())
    )
    before = {
        model: {
            rid: row["write_date"]
            for rid, row in sim.table(model).items()
            if row.get("res_id") != lead
        }
        for model in ("mail.activity", "mail.message")
    }

    sim.unlink("crm.lead", lead)

    for model in ("mail.activity", "mail.message"):
        rows = sim.table(model)
        assert not any(
            row.get("res_id") == lead and (row.get("res_model") or row.get("model")) == "crm.lead"
            for row in rows.values()
        )
        # nothing else was touched (a partner with the same id keeps its chatter)
        assert {rid: row["write_date"] for rid, row in rows.items()}.items() >= {
            k: v for k, v in before[model].items() if k in rows
        }.items()


def test_renaming_touches_only_the_record_and_names_are_read_live(sim: OdooSim) -> None:
    activity_id, activity = next(
        (aid, row) for aid, row in sim.table("mail.activity").items() if row["user_id"]
    )
    uid = activity["user_id"][0]
    written = activity["write_date"]
    sim.advance(60)

    sim.edit("res.users", uid, name="Renamed User")
    sim.edit("crm.lead", next(iter(sim.table("crm.lead"))), name="Renamed Lead")

    assert sim.table("mail.activity")[activity_id]["write_date"] == written
    [read] = sim.read("mail.activity", [activity_id], ["user_id", "res_name"], context=ALL)
    assert read["user_id"] == [uid, "Renamed User"]  # a many2one shows the current name


def test_the_chatter_has_automated_mails_inbox_notifications_and_partner_threads(
    sim: OdooSim,
) -> None:
    rows = sim.table("mail.message").values()

    assert {"comment", "email", "notification", "auto_comment", "user_notification"} <= {
        row["message_type"] for row in rows
    }
    assert any(row["model"] == "res.partner" for row in rows)
    assert any(row["mail_activity_type_id"] for row in rows)  # done messages
