"""The repository stands alone: no file points at a path outside it (a teammate's checkout,
a shared folder next to it, a home directory)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIPPED_SUFFIXES = {".png", ".ico", ".lock"}
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(["/" + "work/", r"\.\./" + "shared", "/" + "root/", "shared/" + "seeds"])
)


def repository_files() -> list[Path]:
    """Committed files and new ones not ignored by .gitignore."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    paths = [REPO / name for name in listed.split("\0") if name]
    return [
        path
        for path in paths
        if path.is_file()
        and path.suffix not in SKIPPED_SUFFIXES
        and path.name != "package-lock.json"
    ]


def test_no_file_refers_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in repository_files()
        for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []
