"""Who holds leases in this process.

The leases themselves live in the store (`app/store/leases.py`: `store.leases.acquire`, `renew`,
`release`, `holder`). `holder_id` names this process wherever it claims work: the sync lease and
the reminder delivery claims alike.
"""

from __future__ import annotations

import os
import socket
import uuid


def holder_id() -> str:
    """Who holds leases and claims in this process: unique per process, readable in the data."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
