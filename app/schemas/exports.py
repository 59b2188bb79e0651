"""Export formats of GET /activities/export and GET /timeline/export."""

from __future__ import annotations

from typing import Literal

ExportFormat = Literal["csv", "xlsx"]
