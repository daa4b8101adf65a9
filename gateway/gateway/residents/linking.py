"""Which resident record a verified phone is: the gateway asks the booking service at every phone-code sign-in
and every refresh of such a sign-in, and puts the answer in the tokens (``resident_id``).

The gateway may call services (it is the edge); booking never calls the gateway. The call carries a token the
gateway signs for itself (subject ``linli-gateway``, scope ``gateway:resident-links``, a minute long): services
accept that scope from the gateway's own keys only (service-kit's ``require_gateway``). Booking answers the
record of the phone, linking it to the app account (the identity) that proved it, or 404 when it has none; the
identity then keeps no record, its tokens carry its own id, and a self-registration creates the record under it.

The answer is kept in ``resident_identity.resident_id`` (one record, one identity). When booking cannot answer,
the sign-in fails with 503 and nothing is spent (the code, the refresh token): a token that guessed the record
could give a phone someone else's record, or lock its owner out again.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.keys import SigningKey
from gateway.config import GatewaySettings
from gateway.residents import repository
from gateway.residents.models import ResidentIdentity
from gateway.upstreams import Upstreams
from service_kit.auth import GatewayScope
from service_kit.errors import DependencyUnavailable, LinliError
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.gateway.residents")

RESIDENT_LINKS = "/internal/v1/resident-links"
ERASED = "/internal/v1/resident-links/erased"
CALL_TOKEN_SECONDS = 60
RETRY_AFTER_SECONDS = 2


class ResidentLinker:
    def __init__(self, upstreams: Upstreams, key: SigningKey, settings: GatewaySettings) -> None:
        self.upstreams = upstreams
        self.key = key
        self.settings = settings

    def _credential(self) -> str:
        return self.key.sign_call(
            self.settings.jwt_issuer,
            self.settings.jwt_audience,
            GatewayScope.resident_links.value,
            seconds=CALL_TOKEN_SECONDS,
        )

    async def record_of(self, identity: ResidentIdentity, *, request_id: str | None = None) -> uuid.UUID | None:
        """Booking's resident record of the identity's phone (linked to the identity there), or None."""
        headers = {
            "Authorization": f"Bearer {self._credential()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if request_id:
            headers["X-Request-ID"] = request_id
        body: dict[str, Any] = {
            "phone": identity.phone,
            "account_subject": str(identity.id),
            "consent_version": identity.consent_version,
        }
        try:
            status, answer = await self.upstreams.post_json(
                "booking",
                RESIDENT_LINKS,
                body=json.dumps(body).encode(),
                headers=headers,
                timeout=self.settings.resident_link_timeout_seconds,
            )
        except LinliError as exc:
            log.warning("booking cannot say which resident a phone is", error=repr(exc))
            raise _unavailable() from exc
        if status == 404 and isinstance(answer, dict) and answer.get("code") == "no_resident_for_phone":
            return None
        if status == 200 and isinstance(answer, dict):
            try:
                return uuid.UUID(str(answer.get("resident_id")))
            except ValueError:
                pass
        log.warning("booking answered the resident link badly", status=status)
        raise _unavailable()

    async def erased_among(self, resident_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Which of ``resident_ids`` booking has erased (the erasure reconciliation, ``residents/erasure.py``);
        ``DependencyUnavailable`` when booking cannot say."""
        if not resident_ids:
            return []
        headers = {
            "Authorization": f"Bearer {self._credential()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        body = json.dumps({"resident_ids": [str(r) for r in resident_ids]}).encode()
        status, answer = await self.upstreams.post_json(
            "booking", ERASED, body=body, headers=headers, timeout=self.settings.resident_link_timeout_seconds
        )
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("erased"), list):
            return [uuid.UUID(str(r)) for r in answer["erased"]]
        log.warning("booking answered the erasure check badly", status=status)
        raise _unavailable()

    async def link(self, session: AsyncSession, identity: ResidentIdentity, *, request_id: str | None = None) -> None:
        """Ask booking for the identity's record and keep the answer on the identity (no answer: 503)."""
        record = await self.record_of(identity, request_id=request_id)
        if record == identity.resident_id:
            return
        previous = identity.resident_id
        try:
            async with session.begin_nested():
                if record is not None:
                    # The record moved to this phone: the identity of the phone it had is no longer linked to it.
                    await repository.unlink_record(session, record, but=identity.id, now=utcnow())
                identity.resident_id = record
                identity.updated_at = utcnow()
                await session.flush()
        except IntegrityError as exc:  # another phone's sign-in linked the same record at this very moment
            log.warning("resident link raced", identity=str(identity.id))
            raise _unavailable() from exc
        log.info(
            "resident identity linked" if record else "resident identity unlinked",
            identity=str(identity.id),
            resident_id=str(record or previous),
        )


def _unavailable() -> DependencyUnavailable:
    return DependencyUnavailable(
        "The booking service cannot say now which resident this phone is; sign in again in a moment.",
        code="resident_lookup_unavailable",
        retry_after=RETRY_AFTER_SECONDS,
    )
