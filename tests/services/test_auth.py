"""Token verification: pinned algorithms, no HS/RS confusion, required claims, identities."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.errors import Forbidden, Unauthorized
from app.services.auth import verify_token
from tests.conftest import JWT_SECRET, make_settings


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256_forged_with(secret: str, payload: dict[str, object]) -> str:
    signing_input = (
        f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}."
        f"{_b64(json.dumps(payload).encode())}"
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def claims(**overrides: object) -> dict[str, object]:
    return {
        "sub": "alice",
        "tenant": "acme",
        "roles": ["user"],
        "approved": True,
        "exp": int(time.time()) + 600,
        **overrides,
    }


def test_hs256_token_verifies_and_carries_identities():
    settings = make_settings()
    token = jwt.encode(claims(odoo_uid=7, tz="Asia/Dubai", name="Alice"), JWT_SECRET, "HS256")
    principal = verify_token(token, settings)
    assert principal.identities == ("alice", "odoo:7")
    assert principal.tz == "Asia/Dubai" and principal.tenant == "acme"


def test_rs256_configuration_accepts_rs256_only(rsa_keys):
    private, public = rsa_keys
    settings = make_settings(jwt_public_key=public)
    assert verify_token(jwt.encode(claims(), private, "RS256"), settings).sub == "alice"
    # HS256 signed with the public key as the secret: the classic algorithm-confusion attack
    # (forged by hand: PyJWT itself refuses a PEM key as an HMAC secret).
    with pytest.raises(Unauthorized):
        verify_token(hs256_forged_with(public, claims()), settings)
    with pytest.raises(Unauthorized):
        verify_token(jwt.encode(claims(), JWT_SECRET, "HS256"), settings)
    forged = jwt.encode(claims(), "not-the-key-but-32-bytes-or-longer", "HS256")
    with pytest.raises(Unauthorized):
        verify_token(forged, settings)


def test_hs256_configuration_refuses_rs256(rsa_keys):
    private, _ = rsa_keys
    with pytest.raises(Unauthorized):
        verify_token(jwt.encode(claims(), private, "RS256"), make_settings())


@pytest.mark.parametrize(
    "bad",
    [
        claims(exp=int(time.time()) - 10),
        claims(nbf=int(time.time()) + 600),
        {k: v for k, v in claims().items() if k != "exp"},
        {k: v for k, v in claims().items() if k != "sub"},
        claims(sub=""),
        claims(tenant="acme:evil"),
        claims(tenant=""),
        claims(roles="user"),
        claims(roles=[1]),
        claims(odoo_uid="7"),
    ],
)
def test_invalid_claims_are_401(bad):
    settings = make_settings()
    if bad.get("roles") == "user":
        # A space/comma separated string of roles is accepted as a convenience.
        assert verify_token(jwt.encode(bad, JWT_SECRET, "HS256"), settings).roles == {"user"}
        return
    with pytest.raises(Unauthorized):
        verify_token(jwt.encode(bad, JWT_SECRET, "HS256"), settings)


def test_unapproved_is_403():
    with pytest.raises(Forbidden):
        verify_token(jwt.encode(claims(approved=False), JWT_SECRET, "HS256"), make_settings())
    with pytest.raises(Forbidden):
        verify_token(jwt.encode(claims(approved="yes"), JWT_SECRET, "HS256"), make_settings())


def test_issuer_and_audience_are_checked_when_configured():
    settings = make_settings(jwt_issuer="https://id.example", jwt_audience="activity-service")
    good = claims(iss="https://id.example", aud="activity-service")
    assert verify_token(jwt.encode(good, JWT_SECRET, "HS256"), settings).sub == "alice"
    for bad in (
        claims(iss="https://evil", aud="activity-service"),
        claims(iss="https://id.example", aud="other"),
        claims(),
    ):
        with pytest.raises(Unauthorized):
            verify_token(jwt.encode(bad, JWT_SECRET, "HS256"), settings)


def test_unknown_tz_claim_falls_back_instead_of_locking_out():
    principal = verify_token(
        jwt.encode(claims(tz="Mars/Base"), JWT_SECRET, "HS256"), make_settings()
    )
    assert principal.tz is None


def test_production_refuses_weak_setup():
    from pydantic import SecretStr, ValidationError

    with pytest.raises(ValidationError, match="MONGODB_URI"):
        make_settings(app_env="production", mongodb_uri=None)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        make_settings(
            app_env="production",
            mongodb_uri=SecretStr("mongodb://x"),
            jwt_secret=SecretStr("dev-only-insecure-secret-change-me"),
        )
