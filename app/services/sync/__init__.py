"""The Odoo sync: Odoo records into the serving collection, one run per tenant at a time.

Modules, one concern each (data flows connector → pages → mapping → store):
- `settings`: what the app's Settings mean for the sync (connection, models, domains);
- `specs`: the table of synced models (fields, domain, document builder, renames, deletions);
- `mapping`: Odoo records as stored documents (pure); `history`: done activities' messages;
- `pages`: how Odoo is read (by id; one scan per incremental run) and the page pipeline;
- `state`: each model's reading position; `run`: one run; `runner`: the run lifecycle;
- `reads`: what the routes read.
"""

from app.services.sync.reads import get_run, list_runs, start_run, status
from app.services.sync.run import SyncFailed, SyncStopped
from app.services.sync.runner import SyncRunner
from app.services.sync.settings import ANY_ACTIVE, lease_key, odoo_config, synced_models

__all__ = [
    "ANY_ACTIVE",
    "SyncFailed",
    "SyncRunner",
    "SyncStopped",
    "get_run",
    "lease_key",
    "list_runs",
    "odoo_config",
    "start_run",
    "status",
    "synced_models",
]
