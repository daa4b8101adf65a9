"""Erasure reaches the gateway: what it holds of a resident whose record booking erased goes.

The gateway holds of a resident: the app account of their phone (``resident_identity``: the phone sealed and its
blind index, the link to their record), the codes sent to that phone (``otp_challenge``, by the same index), the
refresh tokens of the account, and, rarely, a password account naming their record (``account.resident_id``).
Erasing removes the identity, its codes and tokens (the app is signed out at the next refresh; an access token
dies within its 15 minutes, and booking refuses it meanwhile, the record being erased) and deactivates such an
account without its name.

**How the gateway learns of an erasure — not from the event.** Every service acts on ``linli.resident.erased.v1``;
the gateway does not, because the edge has no access to NATS by design (the NetworkPolicies let only the
services reach it, ``tests/test_k8s_manifests.py``): the one process exposed to the internet can neither publish
nor read the district's events. Instead:

1. **On the way back.** The erasure itself goes through the gateway (``DELETE /api/v1/residents/{id}``, by the
   resident or an operator). When booking answers 204, the gateway forgets the resident in its own database before
   the answer leaves (``forget_after``); booking committed the erasure, so there is nothing to undo.
2. **Reconciliation.** What that misses — a replica that died between booking's answer and its own commit, a
   database that failed just then, an erasure made past the gateway (an admin job) — is caught by a periodic pass
   (``reconcile``, every ``erasure_reconcile_seconds``): it asks booking which of the records its accounts name
   are erased (``POST /internal/v1/resident-links/erased``, with the gateway's own token, 500 ids a call) and
   forgets those. Forgetting twice is harmless: what is gone stays gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts import repository as accounts_repository
from gateway.auth import repository as refresh_tokens
from gateway.residents import repository
from gateway.residents.linking import ResidentLinker
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.gateway.erasure")

_ERASURE = re.compile(
    r"^/api/v1/residents/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
CHECK_BATCH = 500


def erased_by(method: str, path: str, status: int) -> uuid.UUID | None:
    """The resident a forwarded request erased: a ``DELETE /api/v1/residents/{id}`` booking answered 204."""
    if method != "DELETE" or status != 204:
        return None
    found = _ERASURE.match(path)
    return uuid.UUID(found.group(1)) if found else None


async def forget(session: AsyncSession, resident_id: uuid.UUID) -> int:
    """Remove the app accounts of the erased record (its own id is the identity's, for a self-registration), their
    codes and refresh tokens, and deactivate a password account naming it; how many identities went."""
    identities = await repository.identities_naming(session, resident_id)
    for identity in identities:
        await repository.delete_codes(session, identity.phone_index)
        await refresh_tokens.delete_of_resident_identity(session, identity.id)
        await repository.delete_identity(session, identity.id)
    accounts = await accounts_repository.ids_naming(session, resident_id)
    for account_id in accounts:
        await refresh_tokens.delete_of_account(session, account_id)
        await accounts_repository.set_values(
            session,
            account_id,
            username=f"erased-{account_id.hex[:16]}",
            name=None,
            resident_id=None,
            active=False,
            updated_at=utcnow(),
        )
    if identities or accounts:
        log.info("erased resident forgotten", resident_id=str(resident_id), identities=len(identities))
    return len(identities)


async def forget_after(sessionmaker: async_sessionmaker[AsyncSession], resident_id: uuid.UUID) -> None:
    """Forget the resident booking has just erased; a failure is left to the reconciliation (logged), never turned
    into an error of the erasure, which booking has committed."""
    try:
        async with sessionmaker() as session, session.begin():
            await forget(session, resident_id)
    except Exception as exc:  # noqa: BLE001 - the reconciliation catches it up
        log.warning("erased resident not forgotten yet", resident_id=str(resident_id), error=repr(exc))


async def reconcile(sessionmaker: async_sessionmaker[AsyncSession], linker: ResidentLinker) -> int:
    """One pass over every record the gateway's accounts name: forget those booking says are erased; how many."""
    forgotten = 0
    after: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session:
            rows = await repository.links_after(session, after, limit=CHECK_BATCH // 2)
        if not rows:
            break
        after = rows[-1][0]
        named = sorted({value for row in rows for value in row if value is not None})
        for resident_id in await linker.erased_among(named):
            async with sessionmaker() as session, session.begin():
                forgotten += await forget(session, resident_id)
    async with sessionmaker() as session:
        accounts = sorted(set(await accounts_repository.resident_ids(session)))
    for start in range(0, len(accounts), CHECK_BATCH):
        for resident_id in await linker.erased_among(accounts[start : start + CHECK_BATCH]):
            async with sessionmaker() as session, session.begin():
                await forget(session, resident_id)
    return forgotten


async def reconcile_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    linker: Callable[[], ResidentLinker],
    *,
    every_seconds: float,
    stopping: asyncio.Event,
) -> None:
    """``reconcile`` every ``every_seconds`` until ``stopping``; a pass that fails (booking away) is tried again at
    the next, and the gateway keeps serving."""
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=every_seconds)
        if stopping.is_set():
            break
        try:
            forgotten = await reconcile(sessionmaker, linker())  # signed with the key current now
        except Exception as exc:  # noqa: BLE001 - the next pass tries again
            log.warning("erasure reconciliation failed", error=repr(exc))
            continue
        if forgotten:
            log.info("erased residents forgotten by reconciliation", count=forgotten)
