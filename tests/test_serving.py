"""How the service is served. The usual ways to start a FastAPI app start this one (`uvicorn
app.main:app`, `fastapi run app/main.py`, `python -m app serve`) and importing the app connects to
nothing. /docs and /redoc render in a real headless Chromium with every external host
unreachable: Swagger UI and ReDoc come from the service itself and show every operation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_process import REPO, free_port, running, service_env

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def uvicorn_server() -> Iterator[str]:
    """`uvicorn app.main:app`, as the FastAPI docs start an app."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1"]
    with running([*argv, "--port", str(port)], port) as base:
        yield base


def _serves_the_api(base: str) -> None:
    assert httpx.get(f"{base}/health/live").json() == {"status": "ok"}
    assert httpx.get(f"{base}/health/ready").status_code == 200
    document = httpx.get(f"{base}/openapi.json").json()
    assert document["paths"]["/api/v1/activities"]["get"]["operationId"] == "activities_search"
    problem = httpx.get(f"{base}/api/v1/activities")
    assert problem.status_code == 401
    assert problem.headers["content-type"] == "application/problem+json"


def test_uvicorn_app_main_app_serves(uvicorn_server: str) -> None:
    _serves_the_api(uvicorn_server)


@pytest.mark.parametrize(
    "command",
    [["-m", "fastapi", "run", "app/main.py"], ["-m", "app", "serve"]],
    ids=["fastapi-run", "python-m-app"],
)
def test_starts_and_serves(command: list[str]) -> None:
    port = free_port()
    argv = [sys.executable, *command, "--host", "127.0.0.1", "--port", str(port)]
    with running(argv, port) as base:
        _serves_the_api(base)


def test_importing_the_app_opens_no_connection() -> None:
    # Every socket connect fails in this interpreter; a MongoDB URI and an Odoo URL are set.
    script = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('connected at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import app.main\n"
        "from fastapi import FastAPI\n"
        "assert isinstance(app.main.app, FastAPI)\n"
    )
    env = {
        **service_env(),
        "MONGODB_URI": "mongodb://127.0.0.1:9/never",
        "ODOO_URL": "http://127.0.0.1:9",
        "ODOO_DB": "odoo",
        "ODOO_USERNAME": "admin",
        "ODOO_PASSWORD": "admin-password",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium package)")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets them finish without sleeping)."""
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # Offline, whatever this machine can reach: no host but loopback resolves.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


def _operation_ids(base: str) -> list[str]:
    document = httpx.get(f"{base}/openapi.json").json()
    return [op["operationId"] for item in document["paths"].values() for op in item.values()]


def test_swagger_ui_renders_every_operation(uvicorn_server: str, tmp_path: Path) -> None:
    dom = rendered_dom(f"{uvicorn_server}/docs", tmp_path)
    shown = re.findall(r'class="opblock-summary-operation-id"[^>]*>([a-z0-9_]+)<', dom)
    assert sorted(shown) == sorted(_operation_ids(uvicorn_server))
    assert "Search Activities" in dom and "/api/v1/activities/{activity_id}" in dom


def test_redoc_renders_every_operation(uvicorn_server: str, tmp_path: Path) -> None:
    dom = rendered_dom(f"{uvicorn_server}/redoc", tmp_path)
    shown = set(re.findall(r'id="operation/([a-z0-9_]+)"', dom))
    assert shown == set(_operation_ids(uvicorn_server))
