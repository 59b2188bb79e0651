"""Who holds leases in this process, and the lease calls as the sync makes them.

The leases themselves live in the store (`app/store/leases.py`: `store.leases.acquire`, `renew`,
`release`, `holder`). `holder_id` names this process wherever it claims work: the sync lease and
the reminder delivery claims alike.
"""

from __future__ import annotations

import os
import socket
import uuid

from app.store.leases import Leases


def holder_id() -> str:
    """Who holds leases and claims in this process: unique per process, readable in the data."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# The sync calls the lease operations with the repository as first argument: the repository's
# own methods, unbound. The sync issue switches it to `store.leases.<method>` and drops these.
acquire = Leases.acquire
renew = Leases.renew
release = Leases.release
holder = Leases.holder
