"""The base of the store's repositories: one per collection, with domain methods.

A repository is the only code that builds a collection's queries and writes; services call its
methods (`notifications.claim_due(now, owner, lease=...)`, `leases.acquire(key, ...)`) and never
see a collection or a pymongo operation. `collection` stays reachable for tests and benchmarks
that inspect or prepare raw documents.
"""

from __future__ import annotations

from app.store.collection import TimedCollection


class Repository:
    def __init__(self, collection: TimedCollection) -> None:
        self.collection = collection
