"""The service started the way an operator starts it: a command in its own process, on a free
loopback port, waited for until /health/live answers, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env() -> dict[str, str]:
    """Development settings on the embedded store, whatever the caller's environment says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "ODOO_"))}
    env.update(APP_ENV="development", SCHEDULER_ENABLED="false", DEMO_DATA="false")
    return env


@contextmanager
def running(command: Sequence[str], port: int) -> Iterator[str]:
    """Start `command` (which must listen on 127.0.0.1:`port`); yield its base URL."""
    # Output goes to a file, not a pipe nobody drains (a full pipe would block the server).
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        list(command),
        cwd=REPO,
        env=service_env(),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                output.seek(0)
                printed = output.read().decode(errors="replace")
                raise AssertionError(f"{command} exited with {process.returncode}:\n{printed}")
            try:
                if httpx.get(f"{base}/health/live", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} did not answer /health/live in time")
            time.sleep(0.1)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        output.close()
