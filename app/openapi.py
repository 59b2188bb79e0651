"""The OpenAPI document: stable operation ids, and every error response described as it is
sent (problem+json)."""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.errors import PROBLEM_JSON
from app.schemas.common import Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def operation_id(route: APIRoute) -> str:
    """`<area>_<action>`: the route's tag, then its function name without the area's own noun.

    `search_activities` under `activities` -> `activities_search`, `get_activity` ->
    `activities_get`, `start_sync` under `sync` -> `sync_start`, `agenda` under `dashboard` ->
    `dashboard_agenda`. Generated clients name their methods after these ids, so they change only
    when a route's tag or function is renamed; the committed docs/openapi.json shows it in review.
    """
    tag = route.tags[0] if route.tags else ""
    tag = str(tag.value) if isinstance(tag, Enum) else tag
    area = re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_")
    nouns = {area, area.removesuffix("s"), re.sub(r"ies$", "y", area)} - {""}
    words = route.name.split("_")
    action = [word for word in words if word not in nouns] or words
    return "_".join([area, *action]) if area else route.name


def openapi_json(app: FastAPI) -> str:
    """The document as committed in docs/openapi.json: stable key order, two-space indent."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": dict(_PROBLEM_REF)}}


def install_problem_openapi(app: FastAPI) -> None:
    """Replace FastAPI's default error schemas (HTTPValidationError as application/json) with
    the RFC 9457 body every 4xx/5xx actually carries, and document the 401/422 every API route
    can answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, definition in components["Problem"].pop("$defs", {}).items():
            components.setdefault(name, definition)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if path.startswith("/api/"):
                    responses.setdefault("401", {"description": "Missing or invalid token"})
                    responses.setdefault("422", {"description": "Invalid input"})
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = _problem_content()
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
