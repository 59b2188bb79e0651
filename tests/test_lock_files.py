"""The lock files pin exactly what pyproject.toml asks for: `make install` and the Dockerfile
install from them, so a dependency added to pyproject.toml without `make lock` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def pins(lock: str) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (REPO / lock).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = Version(match[2])
        else:
            assert not line.strip() or line.lstrip().startswith("#"), f"{lock}: {line!r}"
    return found


def requirements(*groups: str) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for group in groups:
        wanted += project["optional-dependencies"][group]
    return [Requirement(line) for line in wanted]


@pytest.mark.parametrize(
    ("lock", "groups"), [("requirements.lock", ()), ("requirements-dev.lock", ("dev",))]
)
def test_lock_pins_every_requirement_within_its_range(lock: str, groups: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in requirements(*groups):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {lock}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, pyproject.toml asks {requirement.specifier}: "
            "run `make lock`"
        )


def test_service_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    service, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in service} == service
    for tool in ("pytest", "ruff", "mypy", "schemathesis"):
        assert tool not in service and tool in dev
