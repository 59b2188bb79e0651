"""Log lines: JSON for collectors, readable text for people, never escape codes or tracebacks."""

from __future__ import annotations

import json
import logging

import pytest

from app.config import Settings
from app.observability import JsonFormatter, TextFormatter, request_id_var


def _record(msg: str, *, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, None, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_no_ansi_escape_codes_from_uvicorn_color_message() -> None:
    record = _record(
        "Uvicorn running on http://127.0.0.1:8000",
        color_message="Uvicorn running on \x1b[1mhttp://127.0.0.1:8000\x1b[0m",
    )
    line = JsonFormatter().format(record)
    assert "\x1b" not in line and "\\u001b" not in line
    entry = json.loads(line)
    assert "color_message" not in entry
    assert entry["msg"] == "Uvicorn running on http://127.0.0.1:8000"


def test_escape_codes_in_messages_and_fields_are_stripped() -> None:
    record = _record("\x1b[32mINFO\x1b[0m started", route="\x1b[31m/x\x1b[0m")
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        assert "\x1b" not in line and "\\u001b" not in line


def test_text_lines_are_readable_and_keep_the_request_id() -> None:
    token = request_id_var.set("req-123")
    try:
        line = TextFormatter().format(_record("GET /api/v1/activities 200", status=200))
    finally:
        request_id_var.reset(token)
    assert "INFO" in line and "uvicorn.error" in line
    assert "GET /api/v1/activities 200" in line
    assert "request_id=req-123" in line and "status=200" in line
    assert not line.startswith("{")


def test_an_exception_is_named_without_its_traceback() -> None:
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(_record("failed", exc=True))
        assert "ValueError" in line
        assert "Traceback" not in line and "test_logging.py" not in line


@pytest.mark.parametrize(
    ("env", "log_format", "expected"),
    [
        ("development", "auto", "text"),
        ("test", "auto", "json"),
        ("production", "auto", "json"),
        ("development", "json", "json"),
        ("test", "text", "text"),
    ],
)
def test_log_format_follows_app_env_unless_set(env: str, log_format: str, expected: str) -> None:
    settings = Settings.model_construct(app_env=env, log_format=log_format)
    assert settings.log_format_resolved == expected
