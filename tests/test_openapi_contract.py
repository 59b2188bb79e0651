"""The OpenAPI document is the contract the React app compiles against: committed, complete,
with stable operation ids; /docs and /redoc render it from assets the service serves itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.main import create_app
from app.openapi import openapi_json, operation_id
from tests.conftest import make_settings

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def service() -> FastAPI:
    return create_app(make_settings(), configure_logs=False)


@pytest.fixture(scope="module")
def document(service: FastAPI) -> dict[str, Any]:
    return service.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_committed_document_is_the_apps(service: FastAPI) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_json(service), (
        "docs/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_operation_ids_are_unique_and_named_after_their_area(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    for method, path, op in operations(document):
        assert OPERATION_ID.match(op["operationId"]), (method, path, op["operationId"])
        assert op.get("tags"), f"{method} {path} has no tag (its area)"
        area = re.sub(r"[^a-z0-9]+", "_", op["tags"][0].lower()).strip("_")
        assert op["operationId"].startswith(f"{area}_"), (method, path)
        assert op.get("summary"), f"{method} {path} has no one-line docstring"
    by_route = {(m, p): op["operationId"] for m, p, op in operations(document)}
    assert by_route[("GET", "/api/v1/activities")] == "activities_search"
    assert by_route[("GET", "/api/v1/activities/{activity_id}")] == "activities_get"
    assert by_route[("POST", "/api/v1/sync/odoo")] == "sync_start"
    assert by_route[("GET", "/api/v1/dashboard/summary")] == "dashboard_summary"


@pytest.mark.parametrize(
    ("tags", "name", "expected"),
    [
        (["activities"], "search_activities", "activities_search"),
        (["activities"], "create_activity", "activities_create"),
        (["activities"], "create_batch", "activities_create_batch"),
        (["sync"], "sync_status", "sync_status"),
        (["analytics"], "volume", "analytics_volume"),
        (["timeline"], "read_record_timeline", "timeline_read_record"),
        (["Odoo sync"], "start_sync", "odoo_sync_start_sync"),
        ([], "live", "live"),
        (["webhooks"], "webhooks", "webhooks_webhooks"),
    ],
)
def test_operation_id_rule(tags: list[str], name: str, expected: str) -> None:
    async def endpoint() -> None:
        return None

    route = APIRoute("/x", endpoint, name=name, tags=list(tags))
    assert operation_id(route) == expected


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _untyped(document: dict[str, Any], schema: Any, where: str, seen: set[int]) -> list[str]:
    """Every place under `schema` a generated client would type as `unknown` / `any`."""
    if not isinstance(schema, dict):
        return [where]
    schema = _resolve(document, schema)
    if id(schema) in seen:
        return []
    seen.add(id(schema))
    problems: list[str] = []
    if schema.get("additionalProperties") is True:
        problems.append(f"{where}: additionalProperties: true")
    kinds = {"type", "anyOf", "oneOf", "allOf", "enum", "const"} & schema.keys()
    if not kinds:
        return [*problems, f"{where}: no type"]
    if schema.get("type") == "object" and not (
        schema.get("properties") or isinstance(schema.get("additionalProperties"), dict)
    ):
        problems.append(f"{where}: an object without properties")
    for name, sub in schema.get("properties", {}).items():
        problems += _untyped(document, sub, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            problems += _untyped(document, schema[key], f"{where}[{key}]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(schema.get(key, [])):
            problems += _untyped(document, sub, f"{where}|{key}{index}", seen)
    return problems


def test_every_success_json_body_has_a_full_schema(document: dict[str, Any]) -> None:
    problems: list[str] = []
    bodies = 0
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            content = response.get("content", {})
            if not status.startswith("2") or "application/json" not in content:
                continue
            bodies += 1
            schema = content["application/json"].get("schema")
            problems += _untyped(document, schema, f"{method} {path} {status}", set())
    assert bodies >= 19
    assert problems == []


def test_the_walker_finds_what_degrades_to_unknown() -> None:
    document = {
        "components": {
            "schemas": {
                "Page": {"type": "object", "additionalProperties": True},
                "Item": {"type": "object", "properties": {"x": {}, "y": {"type": "string"}}},
            }
        }
    }
    assert _untyped(document, {"$ref": "#/components/schemas/Page"}, "page", set()) == [
        "page: additionalProperties: true",
        "page: an object without properties",
    ]
    assert _untyped(document, {"$ref": "#/components/schemas/Item"}, "item", set()) == [
        "item.x: no type"
    ]


def test_search_page_documents_what_the_fast_renderer_sends(document: dict[str, Any]) -> None:
    page = document["components"]["schemas"]["ActivityPage"]
    assert page["required"] == ["items"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/ActivityRead"}
    assert page["properties"]["total"]["type"] == "integer"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_their_assets_from_the_service(
    client: httpx.AsyncClient, page: str
) -> None:
    html = (await client.get(page)).text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", html)
    assets = [a or b for a, b in urls]
    assert assets and "http" not in html.replace("http-equiv", "")
    for asset in assets:
        assert asset.startswith("/"), asset
        if asset != "/openapi.json":
            response = await client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset
