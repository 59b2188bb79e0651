"""The index-coverage check (tests/index_coverage.py) itself: the ESR rule, the shapes it reads
from real flows, and that a dropped index fails a test session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.config import Settings
from app.schemas.activity import ActivityCreate
from app.services import activities, reminders, timeline
from app.services.auth import Principal
from app.services.clock import FrozenClock
from app.store import Store
from app.store.timing import observe_commands
from tests.index_coverage import (
    QueryRecorder,
    Shape,
    declared_indexes,
    serves,
    serving,
    shapes_of,
    unserved,
)

ROOT = Path(__file__).resolve().parents[2]
ALICE = Principal(
    sub="alice", tenant="acme", roles=frozenset({"user"}), email=None, identities=("alice",)
)


def shape(
    equality: set[str], sort: list[tuple[str, int]], range_: frozenset[str] = frozenset()
) -> Shape:
    return Shape("c", frozenset(equality), tuple(sort), frozenset(range_))


# ---------------------------------------------------------------------------- the rule


def test_equality_then_sort_then_range_is_served_in_either_direction() -> None:
    index = (("t", 1), ("u", 1), ("at", -1), ("id", -1), ("n", 1))
    wanted = shape({"t", "u"}, [("at", -1), ("id", -1)], frozenset({"n"}))
    reversed_ = shape({"t", "u"}, [("at", 1), ("id", 1)], frozenset({"n"}))

    assert serves(index, wanted) and serves(index, reversed_)


@pytest.mark.parametrize(
    ("index", "why"),
    [
        ((("t", 1), ("at", -1)), "the sort's tie-breaker is missing"),
        ((("t", 1), ("at", -1), ("id", 1)), "mixed directions need an in-memory sort"),
        ((("t", 1), ("n", 1), ("at", -1), ("id", -1)), "a range field before the sort"),
        ((("at", -1), ("id", -1)), "an unbounded first key: a scan of the whole index"),
    ],
)
def test_an_index_that_breaks_esr_does_not_serve(
    index: tuple[tuple[str, int], ...], why: str
) -> None:
    assert not serves(index, shape({"t"}, [("at", -1), ("id", -1)], frozenset({"n"}))), why


def test_equality_fields_may_stand_between_sort_keys_and_pin_them() -> None:
    index = (("t", 1), ("day", 1), ("u", 1), ("start", 1))
    # `u` is pinned by equality between the sort keys; `day` pinned makes its sort a no-op.
    assert serves(index, shape({"t", "u"}, [("day", 1), ("start", 1)]))
    assert serves(index, shape({"t", "u", "day"}, [("day", 1), ("start", 1)]))


def test_each_or_branch_is_a_shape_and_in_counts_as_equality() -> None:
    found = shapes_of(
        "c",
        {"t": 1, "u": {"$in": [1, 2]}, "$or": [{"a": {"$gt": 1}}, {"a": 1, "id": {"$gt": 2}}]},
        [("a", 1), ("id", 1)],
    )

    assert found == [
        Shape("c", frozenset({"t", "u"}), (("a", 1), ("id", 1)), frozenset({"a"})),
        Shape("c", frozenset({"t", "u", "a"}), (("a", 1), ("id", 1)), frozenset({"id"})),
    ]


def test_a_query_without_any_condition_is_a_collection_scan() -> None:
    [scan] = shapes_of("c", {})

    assert unserved([scan], {"c": {"by_t": (("t", 1),)}}) == [scan]


# ---------------------------------------------------------------------------- real flows


@pytest.fixture
def recorder() -> Iterator[QueryRecorder]:
    recorded = QueryRecorder()
    stop = observe_commands(recorded)
    yield recorded
    stop()


async def test_a_dropped_index_leaves_the_queries_it_served_unserved(
    store: Store, settings: Settings, clock: FrozenClock, recorder: QueryRecorder
) -> None:
    payload = ActivityCreate.model_validate(
        {"type": "call", "subject": "Call back", "send_reminder": True}
    )
    await activities.create_activities(store, ALICE, [payload], settings=settings, now=clock.now())
    await timeline.read_timeline(store, ALICE, timeline.TimelineFilters(), today="2026-01-20")
    clock.advance(timedelta(days=2))
    await reminders.claim_next(store, owner="w", now=clock.now(), lease=timedelta(minutes=5))
    indexes = await declared_indexes(settings)
    assert recorder.shapes and not recorder.report(indexes)

    without = {
        **indexes,
        "notifications": {
            n: k for n, k in indexes["notifications"].items() if n != "by_status_next_attempt"
        },
        settings.serving_collection: {
            n: k for n, k in indexes[settings.serving_collection].items() if n != "by_occurred"
        },
    }
    problems = recorder.report(without)

    assert len(problems) == 2, problems
    stream, claim = sorted(problems)
    assert claim.startswith("notifications: equality ['status'], sort [next_attempt_at asc]")
    assert claim.endswith(
        "app/store/notifications.py:claim_due <- app/services/reminders.py:claim_next"
    )
    assert "sort [data.occurred_at desc, data.id desc]" in stream
    assert stream.endswith("app/store/envelopes.py:find <- app/services/timeline.py:_page")


async def test_every_shape_names_the_indexes_that_serve_it(settings: Settings) -> None:
    indexes = await declared_indexes(settings)
    [claim] = shapes_of(
        "notifications",
        {"status": {"$in": ["pending"]}, "next_attempt_at": {"$lte": 1}},
        [("next_attempt_at", 1)],
    )

    assert serving(claim, indexes) == ["by_status_next_attempt"]


def test_a_session_whose_app_query_has_no_index_fails(tmp_path: Path) -> None:
    """The session hook end to end: a run that drops the claim's index from the declarations
    and claims a reminder exits non-zero and names the query and its issuer."""
    (tmp_path / "test_claim.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            from datetime import UTC, datetime, timedelta

            import app.store
            from app.services import reminders
            from app.store import open_store
            from tests.conftest import make_settings

            def test_claim_without_its_index():
                app.store.NOTIFICATION_INDEXES[:] = [
                    i for i in app.store.NOTIFICATION_INDEXES
                    if i.document["name"] != "by_status_next_attempt"
                ]
                store = open_store(make_settings())
                asyncio.run(reminders.claim_next(
                    store, owner="w", now=datetime.now(UTC), lease=timedelta(minutes=1)
                ))
            """
        )
    )
    plugins = ["-p", "tests.index_coverage", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plugins, str(tmp_path)],
        cwd=ROOT,
        # The embedded store, whatever this session runs on: nothing is left on a server.
        env={k: v for k, v in os.environ.items() if k != "MONGODB_TEST_URI"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "queries no declared index serves (ESR)" in run.stdout
    assert "app/store/notifications.py:claim_due <- app/services/reminders.py:claim_next" in (
        run.stdout
    )
