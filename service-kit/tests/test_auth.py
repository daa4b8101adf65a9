"""Tokens from several issuers: the gateway's own and an external OpenID Connect provider (a district SSO),
whose keys come from its JWKS URL or a file, cached per issuer, and whose claims map onto Linli's roles."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError

from service_kit.app import ServiceSpec, create_service_app
from service_kit.auth import (
    GATEWAY_SUBJECT,
    GatewayScope,
    OidcSettings,
    Principal,
    Role,
    TokenVerifier,
    TrustedIssuer,
    phone_proof_audience,
    require_gateway,
)
from service_kit.errors import Forbidden, Unauthorized
from service_kit.settings import ServiceSettings
from service_kit.testing import TestKeys, listening_socket, running_app

from .test_app import KitSettings, notes_router

SSO = "https://sso.fangshan.example/realms/linli"
PROVIDER_ID = uuid.uuid4()


class ExternalIdP:
    """An RS256 issuer with its keys published as a JWKS, counting how often they are fetched."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "sso-1"
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, *, issuer: str = SSO, audience: str = "linli", key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "preferred_username": "wang.fang",
            "realm_access": {"roles": ["linli-operator", "offline_access", "admin"]},
            "org_id": str(PROVIDER_ID),
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": self.kid})


def sso_issuer(**fields: Any) -> TrustedIssuer:
    values: dict[str, Any] = {
        "issuer": SSO,
        "audience": "linli",
        "subject_claim": "preferred_username",
        "roles_claim": "realm_access.roles",
        "role_map": {"linli-operator": "operator", "linli-official": "official"},
        "provider_id_claim": "org_id",
        **fields,
    }
    return TrustedIssuer(**values)


@pytest.fixture
def idp() -> ExternalIdP:
    return ExternalIdP()


@pytest.fixture
async def jwks_url(idp: ExternalIdP) -> AsyncIterator[str]:
    """The provider's JWKS served over HTTP on a local port."""

    async def serve_jwks(_request: web.Request) -> web.Response:
        idp.fetches += 1
        return web.json_response(idp.jwks())

    app = web.Application()
    app.router.add_get("/protocol/openid-connect/certs", serve_jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = listening_socket()
    await web.SockSite(runner, sock).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/protocol/openid-connect/certs"
    await runner.cleanup()


def verifier(test_keys: TestKeys, *issuers: TrustedIssuer, trust_builtin: bool = True) -> TokenVerifier:
    settings = ServiceSettings(jwks_file=test_keys.jwks_file)
    return TokenVerifier(settings, OidcSettings(issuers=list(issuers), trust_builtin=trust_builtin))


async def test_an_external_token_is_accepted_with_mapped_claims_and_keys_fetched_once(
    idp: ExternalIdP, jwks_url: str, test_keys: TestKeys
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_url=jwks_url))
    principal = await tokens.verify(idp.token())
    assert principal.subject == "wang.fang"
    # Only the mapped roles count: offline_access is no Linli role, and the provider's own admin is not Linli's.
    assert principal.roles == frozenset({Role.operator})
    assert principal.provider_id == PROVIDER_ID
    # Other callers' tokens from the same provider: its keys are already known, no network per request.
    for n in range(20):
        assert (await tokens.verify(idp.token(preferred_username=f"caller-{n}"))).subject == f"caller-{n}"
    assert idp.fetches == 1
    # The gateway's own tokens are still accepted beside the provider's.
    assert (await tokens.verify(test_keys.token("official", sub="liu"))).roles == frozenset({Role.official})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "https://sso.elsewhere.example/realms/linli"}, "issuer is not trusted"),
        ({"audience": "another-app"}, "not valid"),
        ({"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)}, "not valid"),  # same kid, forged
        ({"exp": int(time.time()) - 60}, "expired"),
    ],
)
async def test_a_wrong_issuer_audience_signature_or_age_is_refused(
    idp: ExternalIdP, jwks_url: str, test_keys: TestKeys, change: dict[str, Any], message: str
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_url=jwks_url))
    with pytest.raises(Unauthorized, match=message):
        await tokens.verify(idp.token(**change))


async def test_keys_from_a_file_and_an_issuer_trusted_instead_of_the_gateway(
    idp: ExternalIdP, test_keys: TestKeys, tmp_path: Path
) -> None:
    jwks_file = tmp_path / "sso-jwks.json"
    jwks_file.write_text(json.dumps(idp.jwks()))
    tokens = verifier(test_keys, sso_issuer(jwks_file=jwks_file), trust_builtin=False)
    assert tokens.trusted_issuers == (SSO,)
    assert (await tokens.verify(idp.token())).subject == "wang.fang"
    with pytest.raises(Unauthorized, match="issuer is not trusted"):
        await tokens.verify(test_keys.token("operator"))


async def test_a_withdrawn_key_stops_its_remembered_tokens(idp: ExternalIdP, test_keys: TestKeys) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_file=test_keys.jwks_file))  # any file: keys loaded below
    tokens.load_issuer_jwks(SSO, idp.jwks())
    token = idp.token()
    assert (await tokens.verify(token)).subject == "wang.fang"
    tokens.load_issuer_jwks(SSO, {"keys": []})  # the provider rotated it away (its file holds other keys)
    with pytest.raises(Unauthorized, match="unknown key"):
        await tokens.verify(token)


async def test_claims_that_do_not_fit_are_refused(idp: ExternalIdP, test_keys: TestKeys) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_file=test_keys.jwks_file))
    tokens.load_issuer_jwks(SSO, idp.jwks())
    with pytest.raises(Unauthorized, match="not valid"):
        await tokens.verify(idp.token(org_id="not-a-uuid"))
    with pytest.raises(Unauthorized, match="no subject"):
        await tokens.verify(idp.token(preferred_username=None))


@pytest.mark.parametrize(
    "fields",
    [
        {"algorithms": ["HS256"]},  # a shared secret is never a trusted issuer's key
        {"algorithms": []},
        {"jwks_url": "", "jwks_file": None},
    ],
)
def test_an_issuer_needs_asymmetric_algorithms_and_somewhere_to_find_its_keys(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        sso_issuer(**({"jwks_url": "https://sso.example/certs"} | fields))


async def test_every_service_trusts_the_issuers_of_its_environment(
    idp: ExternalIdP,
    jwks_url: str,
    service_env: dict[str, Any],
    kit_db_url: str,
    test_keys: TestKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuer = sso_issuer(jwks_url=jwks_url).model_dump(mode="json")
    monkeypatch.setenv("LINLI_OIDC_ISSUERS", json.dumps([issuer]))
    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[notes_router()]))
    async with running_app(app) as client:
        official = {"Authorization": f"Bearer {idp.token(realm_access={'roles': ['linli-official']})}"}
        response = await client.get("/api/v1/notes/official-only", headers=official)
        assert response.status_code == 200, response.text
        assert response.json() == {"subject": "wang.fang"}
        operator = {"Authorization": f"Bearer {idp.token()}"}
        refused = await client.get("/api/v1/notes/official-only", headers=operator)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        elsewhere = {"Authorization": f"Bearer {idp.token(issuer='https://sso.elsewhere.example')}"}
        unknown = await client.get("/api/v1/notes/official-only", headers=elsewhere)
        assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_token")
        gateway_token = await client.get("/api/v1/notes/official-only", headers=test_keys.headers("official"))
        assert gateway_token.status_code == 200


async def test_only_the_issuers_algorithms_are_accepted(idp: ExternalIdP, test_keys: TestKeys) -> None:
    """A key the provider publishes for another algorithm does not make that algorithm acceptable."""
    tokens = verifier(test_keys, sso_issuer(jwks_file=test_keys.jwks_file, algorithms=["RS256"]))
    other = TestKeys(Ed25519PrivateKey.generate(), kid="sso-ed", jwks_file=test_keys.jwks_file, issuer=SSO)
    tokens.load_issuer_jwks(SSO, {"keys": [*idp.jwks()["keys"], *other.jwks()["keys"]]})
    assert (await tokens.verify(idp.token())).subject == "wang.fang"
    with pytest.raises(Unauthorized, match="not valid"):
        await tokens.verify(other.token("operator", preferred_username="wang.fang"))


async def test_remembered_tokens_are_bounded_and_an_expired_one_is_verified_again(
    idp: ExternalIdP, test_keys: TestKeys
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_file=test_keys.jwks_file))
    tokens.load_issuer_jwks(SSO, idp.jwks())
    tokens.max_remembered_tokens = 3
    for n in range(7):
        await tokens.verify(idp.token(preferred_username=f"caller-{n}"))
        assert len(tokens._verified) <= 3
    # A remembered token past its expiry is not taken from memory: it is checked again, and refused. (Remembered
    # as a verification just before it expired would have left it: no waiting for a real token to expire.)
    expired_at = int(time.time()) - 1
    token = idp.token(exp=expired_at)
    tokens._remember(token, Principal(subject="wang.fang", roles=frozenset({Role.operator})), float(expired_at))
    with pytest.raises(Unauthorized, match="expired"):
        await tokens.verify(token)
    assert token not in tokens._verified
    # One still valid is taken from memory, as long as it is valid.
    fresh = idp.token()
    assert (await tokens.verify(fresh)).subject == "wang.fang"
    assert fresh in tokens._verified


async def test_the_gateways_own_scopes_count_only_in_its_own_tokens(
    idp: ExternalIdP, jwks_url: str, test_keys: TestKeys
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_url=jwks_url, subject_claim="sub"))
    scope = f"{GatewayScope.resident_links.value} bookings:read"
    # Another issuer cannot hand out the gateway's scope, whatever subject it names.
    external = await tokens.verify(idp.token(sub=GATEWAY_SUBJECT, scope=scope))
    assert external.scopes == {"bookings:read"}
    with pytest.raises(Forbidden):
        await require_gateway(GatewayScope.resident_links)(external)
    own = await tokens.verify(test_keys.token(sub=GATEWAY_SUBJECT, scope=scope))
    assert own.scopes == {GatewayScope.resident_links.value, "bookings:read"}
    assert await require_gateway(GatewayScope.resident_links)(own) is own
    # Neither an admin nor another subject of the gateway's issuer passes as the gateway.
    for principal in (
        Principal(subject="root", roles=frozenset({Role.admin})),
        await tokens.verify(test_keys.token("resident", sub="someone", scope=GatewayScope.resident_links.value)),
    ):
        with pytest.raises(Forbidden) as refused:
            await require_gateway(GatewayScope.resident_links)(principal)
        assert refused.value.code == "gateway_only"


async def test_a_verified_phone_is_read_from_the_standard_claims(
    idp: ExternalIdP, jwks_url: str, test_keys: TestKeys
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_url=jwks_url))
    signed_in = await tokens.verify(
        test_keys.token("resident", phone_number="+8613812345678", phone_number_verified=True)
    )
    assert (signed_in.phone_number, signed_in.verified_phone) == ("+8613812345678", "+8613812345678")
    # Only a JSON true is a verification; a phone alone is just a claim.
    for verified in ("true", 1, None, False):
        principal = await tokens.verify(
            test_keys.token("resident", phone_number="+8613812345678", phone_number_verified=verified)
        )
        assert principal.verified_phone is None, verified
    assert (await tokens.verify(test_keys.token("resident"))).phone_number is None
    external = await tokens.verify(idp.token(phone_number="+8613912345678", phone_number_verified=True))
    assert external.verified_phone == "+8613912345678"
    with pytest.raises(Unauthorized):
        await tokens.verify(test_keys.token("resident", phone_number="1" * 40, phone_number_verified=True))


async def test_a_phone_proof_is_the_gateways_and_no_access_token(
    idp: ExternalIdP, jwks_url: str, test_keys: TestKeys
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_url=jwks_url))
    audience = phone_proof_audience("linli")
    proof = test_keys.token(sub="identity-1", aud=audience, phone_number="+8613912345678", phone_number_verified=True)
    proved = await tokens.verify_phone_proof(proof)
    assert (proved.subject, proved.phone_number) == ("identity-1", "+8613912345678")
    with pytest.raises(Unauthorized):
        await tokens.verify(proof)  # not a bearer token
    refused = [
        test_keys.token("resident", sub="identity-1", phone_number="+8613912345678", phone_number_verified=True),
        test_keys.token(sub="identity-1", aud=audience, phone_number="+8613912345678"),  # not verified
        test_keys.token(sub="identity-1", aud=audience, phone_number_verified=True),  # no phone
        test_keys.token(
            sub="identity-1",
            aud=audience,
            phone_number="+8613912345678",
            phone_number_verified=True,
            exp=int(time.time()) - 60,
        ),
        # Only the gateway proves phones, not an external issuer.
        idp.token(sub="identity-1", aud=audience, phone_number="+8613912345678", phone_number_verified=True),
    ]
    for token in refused:
        with pytest.raises(Unauthorized):
            await tokens.verify_phone_proof(token)


async def test_a_street_scoped_officials_street_and_the_auditor_role_are_read_from_the_token(
    idp: ExternalIdP, jwks_url: str, test_keys: TestKeys
) -> None:
    tokens = verifier(test_keys, sso_issuer(jwks_url=jwks_url, street_claim="district.street"))
    scoped = await tokens.verify(test_keys.token("official", street_code="changyang"))
    assert (scoped.roles, scoped.street_code) == (frozenset({Role.official}), "changyang")
    assert (await tokens.verify(test_keys.token("official"))).street_code is None  # district-wide
    assert (await tokens.verify(test_keys.token("auditor"))).roles == frozenset({Role.auditor})
    # An external issuer's street claim is read where its mapping says.
    external = await tokens.verify(idp.token(district={"street": "yancun"}))
    assert external.street_code == "yancun"
    for wrong in ("", "x" * 41):
        with pytest.raises(Unauthorized):
            await tokens.verify(test_keys.token("official", street_code=wrong))
