"""Query strings read by `deps.QueryModel`: one validation, FastAPI semantics and docs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from app.deps import QueryModel
from app.schemas.activity import ActivitySearchQuery

API = "/api/v1/activities"


async def make(client: Any, headers: dict[str, str], **fields: Any) -> str:
    body = {"type": "call", "subject": "s", "date": "2026-01-20", **fields}
    response = await client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_lists_take_every_value_and_scalars_the_last(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth()
    call = await make(client, headers)
    email = await make(client, headers, type="email")
    await make(client, headers, type="note")
    response = await client.get(
        f"{API}?type=call&type=email&limit=1&limit=5&unknown=1&sort=-date", headers=headers
    )
    assert response.status_code == 200, response.text
    assert {item["id"] for item in response.json()["items"]} == {call, email}


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("limit=0", ["query", "limit"]),
        ("limit=x", ["query", "limit"]),
        ("type=fax", ["query", "type", 0]),
        ("type=call&type=fax", ["query", "type", 1]),
        ("date_from=2026-13-01", ["query", "date_from"]),
        ("include_total=maybe", ["query", "include_total"]),
    ],
)
async def test_invalid_values_are_a_422_problem_naming_the_parameter(
    client: Any, auth: Callable[..., dict[str, str]], query: str, loc: list[Any]
) -> None:
    response = await client.get(f"{API}?{query}", headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["loc"] for error in response.json()["errors"]] == [loc]


def test_the_documented_parameters_are_the_model_fields() -> None:
    class Query(BaseModel):
        tags: list[str] | None = Field(default=None, description="any of these")
        limit: int = Field(default=50, ge=1, le=200)

    dependency = QueryModel(Query)
    app = FastAPI()

    @app.get("/things", openapi_extra=dependency.openapi)
    async def things(query: Query = Depends(dependency)) -> dict[str, Any]:
        return query.model_dump()

    parameters = app.openapi()["paths"]["/things"]["get"]["parameters"]
    assert parameters == [
        {
            "name": "tags",
            "in": "query",
            "required": False,
            "description": "any of these",
            "schema": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "title": "Tags",  # a null default is left out of the document, as FastAPI does
            },
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": 200,
                "default": 50,
                "title": "Limit",
            },
        },
    ]
    documented = {p["name"] for p in QueryModel(ActivitySearchQuery).openapi["parameters"]}
    assert documented == set(ActivitySearchQuery.model_fields)
