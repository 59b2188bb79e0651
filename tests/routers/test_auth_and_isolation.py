"""Authentication matrix and absolute tenant isolation on every activity route."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import timedelta
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from tests.conftest import JWT_SECRET

API = "/api/v1/activities"
WRONG_KEY = "wrong-key-but-32-bytes-or-longer"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def hs512(claims: dict[str, Any]) -> str:
    """Signed with the right secret but another HMAC algorithm (the secret is short for HS512)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, JWT_SECRET, "HS512")


def unsigned(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


BASE_CLAIMS = {
    "sub": "alice",
    "tenant": "acme",
    "roles": ["user"],
    "approved": True,
    "exp": 4102444800,
}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic YWxpY2U6cHc="}, 401),
        ({"Authorization": "Bearer not.a.jwt"}, 401),
        (
            {"Authorization": "Bearer " + jwt.encode(BASE_CLAIMS, WRONG_KEY, "HS256")},
            401,
        ),
        ({"Authorization": "Bearer " + unsigned(BASE_CLAIMS)}, 401),
        ({"Authorization": "Bearer " + hs512(BASE_CLAIMS)}, 401),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode(
                    {k: v for k, v in BASE_CLAIMS.items() if k != "exp"}, JWT_SECRET, "HS256"
                )
            },
            401,
        ),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode(
                    {k: v for k, v in BASE_CLAIMS.items() if k != "sub"}, JWT_SECRET, "HS256"
                )
            },
            401,
        ),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode({**BASE_CLAIMS, "tenant": "a:b"}, JWT_SECRET, "HS256")
            },
            401,
        ),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode({**BASE_CLAIMS, "approved": False}, JWT_SECRET, "HS256")
            },
            403,
        ),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode(
                    {k: v for k, v in BASE_CLAIMS.items() if k != "approved"}, JWT_SECRET, "HS256"
                )
            },
            403,
        ),
        ({"Authorization": "Bearer " + jwt.encode(BASE_CLAIMS, JWT_SECRET, "HS256")}, 200),
    ],
)
async def test_token_matrix(client, headers, status):
    response = await client.get(API, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if status != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert JWT_SECRET not in response.text


async def test_expired_token_is_401(client, token):
    expired = token("alice", expires_in=timedelta(seconds=-5))
    response = await client.get(API, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401


async def test_insufficient_role_is_403(client, auth):
    # A token whose roles are all unknown has no role at all: reading still works for the
    # team, but editing another user's activity needs owner/creator/manager.
    created = await client.post(
        API, json={"type": "call", "subject": "x", "user_id": "carol"}, headers=auth("carol")
    )
    response = await client.patch(
        f"{API}/{created.json()['id']}",
        json={"notes": "n"},
        headers=auth("mallory", roles=["guest"]),
    )
    assert response.status_code == 403


async def test_another_tenants_activity_is_invisible_everywhere(client, auth):
    mine = (
        await client.post(
            API,
            json={
                "type": "call",
                "subject": "secret",
                "contact_id": "c9",
                "related_id": "crm.lead,5",
            },
            headers=auth("alice", tenant="acme"),
        )
    ).json()
    url = f"{API}/{mine['id']}"
    intruder = auth("alice", tenant="evil", roles=["admin", "manager"])
    assert (await client.get(url, headers=intruder)).status_code == 404
    assert (await client.patch(url, json={"subject": "pwned"}, headers=intruder)).status_code == 404
    patched_if_match = await client.patch(
        url, json={"subject": "pwned"}, headers={**intruder, "If-Match": '"1"'}
    )
    assert patched_if_match.status_code == 404
    assert (await client.delete(url, headers=intruder)).status_code == 404
    for params in (
        {},
        {"user_id": "alice"},
        {"contact_id": "c9"},
        {"related": "crm.lead,5"},
        {"q": "secret"},
        {"urgency": "no_due_date"},
    ):
        listing = await client.get(
            API, params={**params, "include_total": "true"}, headers=intruder
        )
        assert listing.json() == {"items": [], "next_cursor": None, "total": 0}, params
    # Unchanged for its owner; the 404s were indistinguishable from a missing id.
    missing = await client.get(f"{API}/act_doesnotexist", headers=intruder)
    assert missing.json()["title"] == (await client.get(url, headers=intruder)).json()["title"]
    fetched = (await client.get(url, headers=auth("alice", tenant="acme"))).json()
    assert fetched["subject"] == "secret" and fetched["version"] == 1
