"""Every SQL statement of the residents module."""

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from booking.residents import address_grams
from booking.residents.models import HelperGrant, Resident, ResidentAddressGram, ResidentLink, ResidentMerge
from booking.residents.pinyin import name_keys
from service_kit.db import add_unless_taken
from service_kit.pagination import fetch_page
from service_kit.protection import PHONE, PHONE_LAST4, Keyring, keyring_of


def sealed_values(keyring: Keyring, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with each plain-text phone (``phone``, ``emergency_contact_phone``: E.164, or None to clear it)
    given as the columns that hold it: sealed, and the resident's own phone also indexed (exact and last 4); a
    ``name`` with its pinyin and initials (what the console's search finds). Every write of a resident's phone
    or name goes through here."""
    out = dict(values)
    if "name" in out:
        out["name_pinyin"], out["name_initials"] = name_keys(out["name"])
    if "phone" in out:
        phone = out.pop("phone")
        out["phone_sealed"] = keyring.seal(PHONE, phone) if phone else None
        out["phone_index"], out["phone_last4_index"] = keyring.phone_indexes(phone) if phone else (None, None)
    if "emergency_contact_phone" in out:
        contact = out.pop("emergency_contact_phone")
        out["emergency_contact_phone_sealed"] = keyring.seal(PHONE, contact) if contact else None
    return out


async def add(session: AsyncSession, resident: Resident) -> str | None:
    """Insert ``resident``; the name of the unique field already taken (``phone``, ``id_card``, ``account``),
    or None. The unique keys decide, even when two registrations race."""
    try:
        async with session.begin_nested():
            session.add(resident)
            await session.flush()
            await _index_address(session, resident.id, resident.address)
    except IntegrityError as exc:
        return _taken(exc)
    return None


async def update_fields(session: AsyncSession, resident_id: uuid.UUID, values: dict[str, Any]) -> str | None:
    """Apply a correction (plain-text phones are sealed here); the unique field it collides with, or None."""
    values = sealed_values(keyring_of(session), values)
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(Resident)
                .where(Resident.id == resident_id, Resident.erased_at.is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if "address" in values and result.rowcount:  # type: ignore[attr-defined]
                await _index_address(session, resident_id, values["address"])
    except IntegrityError as exc:
        return _taken(exc)
    return None


async def _index_address(session: AsyncSession, resident_id: uuid.UUID, address: str | None) -> None:
    """The address's grams replace the resident's (none once erased or merged away)."""
    await session.execute(delete(ResidentAddressGram).where(ResidentAddressGram.resident_id == resident_id))
    grams = sorted(address_grams.of_address(address))
    if grams:
        await session.execute(insert(ResidentAddressGram), [{"gram": g, "resident_id": resident_id} for g in grams])


def _taken(exc: IntegrityError) -> str:
    message = str(exc.orig).lower()
    if "id_card" in message:
        return "id_card"
    if "account" in message:
        return "account"
    return "phone"


async def get(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    return await session.get(Resident, resident_id, populate_existing=True)


async def find_by_phone(session: AsyncSession, phone: str) -> Resident | None:
    """The resident of this E.164 phone, found by its blind index."""
    index = keyring_of(session).blind_index(PHONE, phone)
    result = await session.execute(select(Resident).where(Resident.phone_index == index))
    return result.scalar_one_or_none()


async def find_by_phone_suffix(
    session: AsyncSession, digits: str, *, limit: int, offset: int
) -> tuple[Sequence[Resident], int]:
    """Residents whose phone number ends with ``digits`` (an operator hears "the number ends in 5678").

    The last 4 digits' blind index finds the candidates; more digits are compared once opened."""
    query = _ending_with_last4(session, digits).order_by(Resident.created_at, Resident.id)
    if len(digits) == 4:
        return await fetch_page(session, query, limit=limit, offset=offset)
    found = [r for r in (await session.execute(query)).scalars() if (r.phone or "").endswith(digits)]
    return found[offset : offset + limit], len(found)


def _ending_with_last4(session: AsyncSession, digits: str) -> Select[Resident]:
    return select(Resident).where(
        Resident.phone_last4_index == keyring_of(session).blind_index(PHONE_LAST4, digits[-4:])
    )


async def ids_by_phone(
    session: AsyncSession, *, exact: str | None = None, suffix: str | None = None
) -> Select[uuid.UUID]:
    """The ids of residents with this E.164 phone, or whose phone ends with ``suffix`` (as a subquery)."""
    keyring = keyring_of(session)
    if exact is not None:
        return select(Resident.id).where(Resident.phone_index == keyring.blind_index(PHONE, exact))
    digits = suffix or ""
    if len(digits) == 4:
        return select(Resident.id).where(Resident.phone_last4_index == keyring.blind_index(PHONE_LAST4, digits))
    matching = [
        r.id
        for r in (await session.execute(_ending_with_last4(session, digits))).scalars()
        if (r.phone or "").endswith(digits)
    ]
    return select(Resident.id).where(Resident.id.in_(matching))


def reachable_ids() -> Select[uuid.UUID]:
    """The ids of residents who can be sent a message: not erased, with a phone (as a subquery)."""
    return select(Resident.id).where(Resident.erased_at.is_(None), Resident.phone_sealed.is_not(None))


async def find_by_id_card_index(session: AsyncSession, index: str) -> Resident | None:
    result = await session.execute(select(Resident).where(Resident.id_card_index == index))
    return result.scalar_one_or_none()


async def find_by_account(session: AsyncSession, subject: str) -> Resident | None:
    result = await session.execute(
        select(Resident).where(Resident.account_subject == subject, Resident.erased_at.is_(None))
    )
    return result.scalar_one_or_none()


async def get_many(session: AsyncSession, resident_ids: Iterable[uuid.UUID]) -> Sequence[Resident]:
    ids = list(set(resident_ids))
    if not ids:
        return []
    result = await session.execute(select(Resident).where(Resident.id.in_(ids)))
    return result.scalars().all()


async def link_account(session: AsyncSession, resident_id: uuid.UUID, subject: str) -> bool:
    """Link the app account ``subject`` to the resident (and to no other record): whether anything changed.

    Guarded writes, so of two sign-ins at once only one finds the link new."""
    await session.execute(
        update(Resident)
        .where(Resident.account_subject == subject, Resident.id != resident_id)
        .values(account_subject=None)
        .execution_options(synchronize_session=False)
    )
    changed = await session.execute(
        update(Resident)
        .where(
            Resident.id == resident_id,
            Resident.erased_at.is_(None),
            (Resident.account_subject.is_(None)) | (Resident.account_subject != subject),
        )
        .values(account_subject=subject)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


async def add_link(session: AsyncSession, link: ResidentLink) -> None:
    session.add(link)
    await session.flush()


async def last_link(session: AsyncSession, resident_id: uuid.UUID, subject: str) -> ResidentLink | None:
    query = (
        select(ResidentLink)
        .where(ResidentLink.resident_id == resident_id, ResidentLink.account_subject == subject)
        .order_by(ResidentLink.at.desc(), ResidentLink.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def links_of(session: AsyncSession, resident_id: uuid.UUID, *, limit: int) -> Sequence[ResidentLink]:
    query = select(ResidentLink).where(ResidentLink.resident_id == resident_id).order_by(ResidentLink.at.desc())
    return (await session.execute(query.limit(limit))).scalars().all()


# ------------------------------------------------------------------ helpers


async def add_grant(session: AsyncSession, grant: HelperGrant) -> bool:
    """Insert ``grant``; False when the pair already has an active grant (the partial unique index decides)."""
    return await add_unless_taken(session, grant)


async def get_grant(session: AsyncSession, grant_id: uuid.UUID) -> HelperGrant | None:
    return await session.get(HelperGrant, grant_id, populate_existing=True)


async def active_grant(session: AsyncSession, resident_id: uuid.UUID, helper_id: uuid.UUID) -> HelperGrant | None:
    query = select(HelperGrant).where(
        HelperGrant.resident_id == resident_id,
        HelperGrant.helper_resident_id == helper_id,
        HelperGrant.revoked_at.is_(None),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def latest_grants(
    session: AsyncSession, pairs: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], HelperGrant]:
    """The latest grant (active or not) of each (resident, helper) pair: how the resident called the helper."""
    wanted = set(pairs)
    if not wanted:
        return {}
    query = (
        select(HelperGrant).where(HelperGrant.resident_id.in_({r for r, _ in wanted})).order_by(HelperGrant.granted_at)
    )
    found: dict[tuple[uuid.UUID, uuid.UUID], HelperGrant] = {}
    for grant in (await session.execute(query)).scalars():
        pair = (grant.resident_id, grant.helper_resident_id)
        if pair in wanted:
            found[pair] = grant
    return found


async def active_grants(
    session: AsyncSession, *, resident_id: uuid.UUID | None = None, helper_id: uuid.UUID | None = None
) -> Sequence[HelperGrant]:
    """Active grants of a resident (their helpers) or of a helper (whom they help)."""
    query = select(HelperGrant).where(HelperGrant.revoked_at.is_(None))
    if resident_id is not None:
        query = query.where(HelperGrant.resident_id == resident_id)
    if helper_id is not None:
        query = query.where(HelperGrant.helper_resident_id == helper_id)
    return (await session.execute(query.order_by(HelperGrant.granted_at, HelperGrant.id))).scalars().all()


async def revoke_grant(session: AsyncSession, grant_id: uuid.UUID, values: dict[str, Any]) -> bool:
    """Revoke an active grant; False when it was revoked already (of two revocations at once, one wins)."""
    result = await session.execute(
        update(HelperGrant)
        .where(HelperGrant.id == grant_id, HelperGrant.revoked_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ merges


async def add_merge(session: AsyncSession, merge: ResidentMerge) -> None:
    session.add(merge)
    await session.flush()


async def set_merge_reasons(session: AsyncSession, resident_id: uuid.UUID, reason: str) -> None:
    """The reason of every merge the resident took part in, as survivor or as duplicate."""
    await session.execute(
        update(ResidentMerge)
        .where(or_(ResidentMerge.survivor_id == resident_id, ResidentMerge.duplicate_id == resident_id))
        .values(reason=reason)
        .execution_options(synchronize_session=False)
    )


async def lock(session: AsyncSession, resident_ids: Sequence[uuid.UUID]) -> None:
    """Hold both records of a merge until it commits (a no-op write: SQLite locks the database on the first
    write; PostgreSQL takes the row locks in id order, so two merges of one pair never deadlock)."""
    for resident_id in sorted(resident_ids):
        await session.execute(
            update(Resident)
            .where(Resident.id == resident_id)
            .values(updated_at=Resident.updated_at)
            .execution_options(synchronize_session=False)
        )


async def move_links(session: AsyncSession, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    await session.execute(
        update(ResidentLink)
        .where(ResidentLink.resident_id == duplicate_id)
        .values(resident_id=survivor_id)
        .execution_options(synchronize_session=False)
    )


async def erased_among(session: AsyncSession, resident_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``resident_ids`` whose record is erased."""
    result = await session.execute(
        select(Resident.id).where(Resident.id.in_(list(resident_ids)), Resident.erased_at.is_not(None))
    )
    return sorted(result.scalars())


async def get_shared(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    """The resident, read under a share lock (PostgreSQL ``FOR SHARE``; SQLite's write transaction serializes
    anyway): an erasure under way is waited for and seen, and one that starts waits for this transaction."""
    return await session.get(Resident, resident_id, populate_existing=True, with_for_update={"read": True})


# ------------------------------------------------------------------ the console's one search box


def _live() -> Any:
    return (Resident.erased_at.is_(None)) & (Resident.merged_into_id.is_(None))


async def search_by_name_key(
    session: AsyncSession, key: str, *, limit: int, offset: int
) -> tuple[Sequence[Resident], int]:
    """Residents whose name's initials or pinyin begin with ``key`` (``zgl``, ``zhanggui``): prefix queries on
    indexed columns; the initials matching whole first."""
    pattern = _like_prefix(key)
    query = (
        select(Resident)
        .where(
            _live(),
            Resident.name_initials.like(pattern, escape="\\") | Resident.name_pinyin.like(pattern, escape="\\"),
        )
        .order_by((Resident.name_initials == key).desc(), Resident.name_pinyin, Resident.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def search_by_text(
    session: AsyncSession, text_: str, *, limit: int, offset: int
) -> tuple[Sequence[Resident], int]:
    """Residents whose name begins with ``text_`` (indexed), or whose address holds it (``长阳镇``, ``3号楼``):
    names first."""
    return await fetch_page(session, await text_search(session, text_), limit=limit, offset=offset)


async def text_search(session: AsyncSession, text_: str) -> Select[Resident]:
    """The statement of ``search_by_text``: the ids the name's index and the address grams' index give, then
    those residents (the benchmark shows its plan)."""
    name_match = Resident.name.like(_like_prefix(text_), escape="\\")
    by_name = select(Resident.id).where(name_match)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's LIKE uses no index (it folds ASCII case): the same prefix as ranges of the name's index, up to
        # its first letter, which is either case. (PostgreSQL's LIKE uses its pattern index as it is.)
        by_name = by_name.where(or_(*(_starting_with(prefix) for prefix in _name_prefixes(text_))))
    by_address = select(Resident.id).where(
        Resident.id.in_(await _address_candidates(session, text_)),
        Resident.address.like(f"%{_escaped(text_)}%", escape="\\"),
    )
    return (
        select(Resident)
        .where(Resident.id.in_(union(by_name, by_address)), _live())
        .order_by(name_match.desc(), Resident.name, Resident.id)
    )


def _name_prefixes(text_: str) -> set[str]:
    """What a name that SQLite's ``LIKE 'text_%'`` finds begins with: ``text_`` up to its first ASCII letter,
    that letter in either case."""
    letter = re.search("[A-Za-z]", text_)
    if letter is None:
        return {text_}
    head = text_[: letter.start()]
    return {head + letter.group().lower(), head + letter.group().upper()}


def _starting_with(prefix: str) -> Any:
    upper = address_grams.successor(prefix[-1])
    lowest = Resident.name >= prefix
    return lowest if upper is None else lowest & (Resident.name < prefix[:-1] + upper)


# Grams held by more addresses than this count as common alike: counting stops there.
_COMMON_GRAM = 2000
# How many of the typed text's grams a candidate is checked for, the rarest first.
_GRAMS_CHECKED = 4


async def _address_candidates(session: AsyncSession, text_: str) -> Select[uuid.UUID]:
    """The residents whose address may hold ``text_``: a superset, read from the grams' index
    (``residents/address_grams.py``). A longer text is looked up by its rarest gram (``号楼`` is in nearly every
    address, ``星苑`` in few), each candidate checked for the next rarest ones (a lookup of the primary key each);
    the LIKE on the few left does the rest."""
    gram = ResidentAddressGram.gram
    if len(text_) >= 2:
        wanted = sorted(address_grams.of_query(text_))
        if len(wanted) > 1:
            held = {g: await _holders(session, g) for g in wanted}
            wanted = sorted(wanted, key=lambda g: (held[g], g))[:_GRAMS_CHECKED]
        first = aliased(ResidentAddressGram)
        query = select(first.resident_id).where(first.gram == wanted[0])
        for other in wanted[1:]:
            also = aliased(ResidentAddressGram)
            query = query.where(exists().where(also.gram == other, also.resident_id == first.resident_id))
        return query
    query = select(ResidentAddressGram.resident_id).where(gram >= address_grams.fold(text_)).distinct()
    upper = address_grams.after(text_)
    return query if upper is None else query.where(gram < upper)


async def _holders(session: AsyncSession, gram: str) -> int:
    """How many addresses hold ``gram``, counted on its index up to ``_COMMON_GRAM``."""
    held = select(ResidentAddressGram.resident_id).where(ResidentAddressGram.gram == gram).limit(_COMMON_GRAM)
    return int(await session.scalar(select(func.count()).select_from(held.subquery())) or 0)


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(value: str) -> str:
    return _escaped(value) + "%"
