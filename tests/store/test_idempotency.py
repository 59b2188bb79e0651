"""Idempotency keys: one atomic claim per key, taken over only once expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.store import Store
from tests.conftest import FROZEN_AT


def _record(n: int) -> dict[str, object]:
    return {
        "claim_id": f"c{n}",
        "tenant_id": "acme",
        "user_id": "alice",
        "ids": [f"a{n}"],
        "expires_at": FROZEN_AT + timedelta(hours=24),
    }


async def test_racing_claims_of_one_key_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(
        *(store.idempotency.claim("acme:alice:k", _record(n), now=FROZEN_AT) for n in range(5))
    )
    winners = [claim for claimed, claim in results if claimed]
    assert len(winners) == 1
    assert {tuple(claim["ids"]) for _, claim in results} == {tuple(winners[0]["ids"])}


async def test_an_expired_claim_is_taken_over_and_purged_per_caller(store: Store) -> None:
    keys = store.idempotency
    assert (await keys.claim("acme:alice:k", _record(1), now=FROZEN_AT))[0]
    later = FROZEN_AT + timedelta(hours=25)
    claimed, claim = await keys.claim(
        "acme:alice:k", {**_record(2), "expires_at": later + timedelta(hours=24)}, now=later
    )
    assert claimed and claim["ids"] == ["a2"]
    assert (await keys.claim("acme:alice:old", _record(3), now=FROZEN_AT))[0]
    assert await keys.purge_expired("acme", "bob", now=later) == 0
    assert await keys.purge_expired("acme", "alice", now=later) == 1


async def test_release_frees_only_its_own_claim(store: Store) -> None:
    keys = store.idempotency
    await keys.claim("acme:alice:k", _record(1), now=FROZEN_AT)
    await keys.release("acme:alice:k", "someone-else")
    assert not (await keys.claim("acme:alice:k", _record(2), now=FROZEN_AT))[0]
    await keys.release("acme:alice:k", "c1")
    assert (await keys.claim("acme:alice:k", _record(2), now=FROZEN_AT))[0]
