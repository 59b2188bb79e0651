"""Exports: the whole result of a search or a timeline query as CSV or XLSX, streamed.

Rows are read page by page through the same service functions and keyset cursors as the JSON
routes (`activities.search_activities`, `timeline.read_timeline`), so an export holds one page
at a time whatever the size of the result:
- CSV leaves as it is produced: the header before the first page is read, then one chunk per
  page. RFC 4180 (CRLF, quotes doubled), UTF-8 with a BOM so Excel reads the encoding; a text
  cell that a spreadsheet would take for a formula gets a leading `'`.
- XLSX is a zip whose directory comes last, so no byte of it is final before the last row is
  written: XlsxWriter in `constant_memory` mode writes rows to a temporary file as they come
  (flushing each row), the workbook is closed into a temporary file, and that file is streamed
  out in chunks. Memory stays flat; the first byte leaves after the last page is read.
Blocking work (XlsxWriter's file writes, the zip compression, reading the file back) runs in a
worker thread so the event loop keeps serving other requests.

Datetimes are shown in the request's time zone: ISO 8601 with its offset in CSV, the zone's
wall-clock time in XLSX (Excel cells have no zone).
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

import xlsxwriter

from app.schemas.exports import ExportFormat
from app.schemas.timeline import TimelineItem
from app.services import activities, timeline
from app.services.auth import Principal
from app.store import Store

Kind = Literal["text", "int", "bool", "date", "time", "datetime"]
BOM = "\ufeff".encode()
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CHUNK = 64 * 1024
# Excel's calendar starts in 1900: earlier dates are written as text.
EXCEL_FIRST_YEAR = 1900
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX_FORMATS = {
    "date": "yyyy-mm-dd",
    "time": "hh:mm:ss",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}


@dataclass(frozen=True)
class Table:
    """What an export writes: a name (file and sheet), typed columns, and one row per item."""

    name: str
    columns: tuple[tuple[str, Kind], ...]
    row: Callable[[Any], tuple[Any, ...]]

    @property
    def headers(self) -> list[str]:
        return [name for name, _ in self.columns]


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]


# ---------------------------------------------------------------------------- tables


def _related_cells(related: Any) -> tuple[Any, Any, Any]:
    if related is None:
        return None, None, None
    if isinstance(related, Mapping):
        return related.get("model"), related.get("id"), related.get("name")
    return related.model, related.id, related.name


ACTIVITY_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("id", "text"),
    ("source", "text"),
    ("external_id", "int"),
    ("type", "text"),
    ("subject", "text"),
    ("state", "text"),
    ("priority", "text"),
    ("urgency", "text"),
    ("days_overdue", "int"),
    ("date", "date"),
    ("due_date", "date"),
    ("start_time", "time"),
    ("end_time", "time"),
    ("user_id", "text"),
    ("user_name", "text"),
    ("related_model", "text"),
    ("related_id", "text"),
    ("related_name", "text"),
    ("contact_id", "text"),
    ("contact_name", "text"),
    ("location", "text"),
    ("description", "text"),
    ("notes", "text"),
    ("phone", "text"),
    ("email", "text"),
    ("send_reminder", "bool"),
    ("notif_time", "datetime"),
    ("other_users", "text"),
    ("created_by", "text"),
    ("created_at", "datetime"),
    ("updated_at", "datetime"),
    ("completed_at", "datetime"),
    ("version", "int"),
)
_ACTIVITY_FIELDS = tuple(
    name
    for name, _ in ACTIVITY_COLUMNS
    if name not in ("related_model", "related_id", "related_name", "other_users")
)


def _activity_row(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """A search item (`activity_read.read_item`) as a row of ACTIVITY_COLUMNS."""
    values = {name: item.get(name) for name in _ACTIVITY_FIELDS}
    values["related_model"], values["related_id"], values["related_name"] = _related_cells(
        item.get("related")
    )
    values["other_users"] = ", ".join(item.get("other_users") or ()) or None
    return tuple(values[name] for name, _ in ACTIVITY_COLUMNS)


TIMELINE_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("kind", "text"),
    ("id", "text"),
    ("occurred_at", "datetime"),
    ("title", "text"),
    ("summary", "text"),
    ("related_model", "text"),
    ("related_id", "text"),
    ("related_name", "text"),
    ("type", "text"),
    ("state", "text"),
    ("priority", "text"),
    ("due_date", "date"),
    ("user_id", "text"),
    ("user_name", "text"),
    ("message_type", "text"),
    ("author_name", "text"),
)
TIMELINE_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in TIMELINE_COLUMNS)


def _timeline_row(item: TimelineItem) -> tuple[Any, ...]:
    act, msg = item.activity, item.message
    return (
        item.kind,
        item.id,
        item.occurred_at,
        item.title,
        item.summary,
        *_related_cells(item.related),
        act.type if act else None,
        act.state if act else None,
        act.priority if act else None,
        act.due_date if act else None,
        act.user_id if act else None,
        act.user_name if act else None,
        msg.message_type if msg else None,
        msg.author_name if msg else None,
    )


ACTIVITIES_TABLE = Table("activities", ACTIVITY_COLUMNS, _activity_row)
TIMELINE_TABLE = Table("timeline", TIMELINE_COLUMNS, _timeline_row)


# ---------------------------------------------------------------------------- pages


async def activity_pages(
    store: Store,
    user: Principal,
    filters: activities.ActivityFilters,
    *,
    today: str,
    sort: str,
    page_size: int,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every matching activity, a search page at a time (GET /activities' own code)."""
    cursor: str | None = None
    while True:
        page = await activities.search_activities(
            store, user, filters, today=today, sort=sort, limit=page_size, cursor=cursor
        )
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def timeline_pages(
    store: Store,
    user: Principal,
    filters: timeline.TimelineFilters,
    *,
    today: str,
    order: str,
    page_size: int,
) -> AsyncIterator[list[TimelineItem]]:
    """Every matching timeline item, a page at a time (GET /timeline's own code)."""
    cursor: str | None = None
    while True:
        page = await timeline.read_timeline(
            store, user, filters, today=today, order=order, limit=page_size, cursor=cursor
        )
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# ---------------------------------------------------------------------------- cells


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_time(value: Any) -> time:
    return time.fromisoformat(value) if isinstance(value, str) else value


def csv_text(value: str) -> str:
    """A text cell as spreadsheets must not run it: a formula-looking one gets a leading `'`."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_cell(kind: Kind, value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if kind == "text":
        return csv_text(str(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "datetime":
        return str(value.astimezone(zone).isoformat())
    if kind == "date":
        return _as_date(value).isoformat()
    if kind == "time":
        return _as_time(value).isoformat()
    return str(value)


def csv_chunks(
    table: Table, pages: AsyncIterator[Sequence[Any]], zone: ZoneInfo
) -> AsyncIterator[bytes]:
    kinds = [kind for _, kind in table.columns]

    async def chunks() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(table.headers)
        yield BOM + buffer.getvalue().encode()
        async for page in pages:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(
                [_csv_cell(k, v, zone) for k, v in zip(kinds, table.row(item), strict=True)]
                for item in page
            )
            yield buffer.getvalue().encode()

    return chunks()


class _Sheet:
    """One XlsxWriter worksheet in constant_memory mode, written row after row (sync code: it
    runs in a worker thread)."""

    def __init__(self, path: str, table: Table, zone: ZoneInfo) -> None:
        self.workbook = xlsxwriter.Workbook(
            path, {"constant_memory": True, "tmpdir": os.path.dirname(path)}
        )
        self.sheet = self.workbook.add_worksheet(table.name)
        bold = self.workbook.add_format({"bold": True})
        self.formats = {
            k: self.workbook.add_format({"num_format": f}) for k, f in XLSX_FORMATS.items()
        }
        self.kinds = [kind for _, kind in table.columns]
        self.table, self.zone = table, zone
        for col, (name, kind) in enumerate(table.columns):
            self.sheet.set_column(col, col, 20 if kind == "datetime" else max(len(name) + 2, 12))
            self.sheet.write_string(0, col, name, bold)
        self.sheet.freeze_panes(1, 0)
        self.next_row = 1

    def write(self, items: Iterable[Any]) -> None:
        for item in items:
            row = self.next_row
            for col, (kind, value) in enumerate(zip(self.kinds, self.table.row(item), strict=True)):
                if value is not None:
                    self._cell(row, col, kind, value)
            self.next_row += 1

    def _cell(self, row: int, col: int, kind: Kind, value: Any) -> None:
        sheet = self.sheet
        if kind == "text":
            # write_string never reads a formula or a number into the text
            sheet.write_string(row, col, str(value))
        elif kind == "int":
            sheet.write_number(row, col, value)
        elif kind == "bool":
            sheet.write_boolean(row, col, bool(value))
        elif kind == "datetime":
            local = value.astimezone(self.zone).replace(tzinfo=None)
            self._dated(row, col, local, "datetime")
        elif kind == "date":
            self._dated(row, col, _as_date(value), "date")
        else:
            sheet.write_datetime(row, col, _as_time(value), self.formats["time"])

    def _dated(self, row: int, col: int, value: date, kind: Kind) -> None:
        if value.year < EXCEL_FIRST_YEAR:
            self.sheet.write_string(row, col, value.isoformat())
        else:
            self.sheet.write_datetime(row, col, value, self.formats[kind])

    def close(self) -> None:
        self.workbook.close()


def xlsx_chunks(
    table: Table, pages: AsyncIterator[Sequence[Any]], zone: ZoneInfo
) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        folder = await asyncio.to_thread(tempfile.mkdtemp, prefix="export-")
        path = os.path.join(folder, f"{table.name}.xlsx")
        try:
            sheet = await asyncio.to_thread(_Sheet, path, table, zone)
            async for page in pages:
                await asyncio.to_thread(sheet.write, page)
            await asyncio.to_thread(sheet.close)
            with await asyncio.to_thread(open, path, "rb") as file:
                while chunk := await asyncio.to_thread(file.read, XLSX_CHUNK):
                    yield chunk
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)

    return chunks()


# ---------------------------------------------------------------------------- exports


def _export(
    table: Table,
    pages: AsyncIterator[Sequence[Any]],
    *,
    fmt: ExportFormat,
    zone: ZoneInfo,
    today: str,
) -> Export:
    write = csv_chunks if fmt == "csv" else xlsx_chunks
    return Export(
        filename=f"{table.name}-{today}.{fmt}",
        media_type=MEDIA_TYPES[fmt],
        chunks=write(table, pages, zone),
    )


def export_activities(
    store: Store,
    user: Principal,
    filters: activities.ActivityFilters,
    *,
    sort: str,
    fmt: ExportFormat,
    zone: ZoneInfo,
    today: str,
    page_size: int,
) -> Export:
    """Every activity GET /activities would page through with these filters and sort."""
    pages = activity_pages(store, user, filters, today=today, sort=sort, page_size=page_size)
    return _export(ACTIVITIES_TABLE, pages, fmt=fmt, zone=zone, today=today)


def export_timeline(
    store: Store,
    user: Principal,
    filters: timeline.TimelineFilters,
    *,
    order: str,
    fmt: ExportFormat,
    zone: ZoneInfo,
    today: str,
    page_size: int,
) -> Export:
    """Every item GET /timeline would page through with these filters and order."""
    pages = timeline_pages(store, user, filters, today=today, order=order, page_size=page_size)
    return _export(TIMELINE_TABLE, pages, fmt=fmt, zone=zone, today=today)
