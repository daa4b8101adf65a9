"""service_kit.protection: sealed fields, blind indexes, keys named in the stored form, rotation and re-sealing."""

import base64
import uuid
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service_kit.db import IdMixin, create_sessionmaker, new_metadata
from service_kit.protection import (
    ID_CARD,
    PHONE,
    PHONE_LAST4,
    Keyring,
    Purpose,
    Sealed,
    SealedColumns,
    SealedValueError,
    keyring_of,
    reseal,
)
from service_kit.settings import ServiceSettings

OLD, NEW, INDEX = "old-data-key-000000000000000000", "new-data-key-111111111111111111", "index-key-2222222222222222"
MOBILE = "+8613812345678"


def test_a_sealed_value_opens_and_never_repeats() -> None:
    keyring = Keyring(NEW)
    first, second = keyring.seal(PHONE, MOBILE), keyring.seal(PHONE, MOBILE)
    assert first != second
    assert MOBILE[3:] not in first
    assert keyring.open(PHONE, first) == keyring.open(PHONE, second) == MOBILE


def test_the_stored_form_names_its_key_and_opens_with_it_alone() -> None:
    stored = Keyring(OLD).seal(PHONE, MOBILE)
    version, kid, _ = stored.split(":")
    assert (version, len(kid)) == ("v2", 8)
    assert Keyring(NEW, [OLD], index_key=OLD).open(PHONE, stored) == MOBILE
    assert not Keyring(NEW, [OLD], index_key=OLD).is_current(stored)
    assert Keyring(OLD).is_current(stored)
    with pytest.raises(SealedValueError, match=f"sealed with key {kid}, which is not in the keyring"):
        Keyring(NEW).open(PHONE, stored)


def test_purposes_keep_apart_what_each_seals_and_indexes() -> None:
    keyring = Keyring(NEW)
    with pytest.raises(SealedValueError, match="does not open"):
        keyring.open(ID_CARD, keyring.seal(PHONE, MOBILE))
    indexes = {keyring.blind_index(p, MOBILE) for p in (PHONE, PHONE_LAST4, ID_CARD, Purpose("other"))}
    assert len(indexes) == 4
    assert keyring.phone_indexes(MOBILE) == (
        keyring.blind_index(PHONE, MOBILE),
        keyring.blind_index(PHONE_LAST4, "5678"),
    )


def test_a_tampered_or_unknown_value_does_not_open() -> None:
    keyring = Keyring(NEW)
    stored = keyring.seal(PHONE, MOBILE)
    raw = bytearray(base64.b64decode(stored.split(":")[2]))
    raw[-1] ^= 1
    tampered = ":".join([*stored.split(":")[:2], base64.b64encode(bytes(raw)).decode()])
    with pytest.raises(SealedValueError, match="does not open"):
        keyring.open(PHONE, tampered)
    with pytest.raises(SealedValueError, match="unknown sealed-value version"):
        keyring.open(PHONE, "v9:" + stored[3:])
    with pytest.raises(SealedValueError, match="not base64"):
        keyring.open(PHONE, stored[:12] + "not base64!")


def test_the_blind_index_stays_across_a_rotation_and_is_keyed() -> None:
    before = Keyring(OLD)
    after = Keyring(NEW, [OLD], index_key=OLD)
    assert after.blind_index(PHONE, MOBILE) == before.blind_index(PHONE, MOBILE)
    assert Keyring(NEW).blind_index(PHONE, MOBILE) != before.blind_index(PHONE, MOBILE)
    assert Keyring(NEW, index_key=INDEX).blind_index(PHONE, MOBILE) == Keyring(OLD, index_key=INDEX).blind_index(
        PHONE, MOBILE
    )
    assert len(after.blind_index(PHONE, MOBILE)) == 64


def test_the_older_v1_form_opens_with_any_key_of_the_keyring() -> None:
    sealed_v2 = Keyring(OLD).seal(ID_CARD, "11011119380315004X")
    v1 = "v1:" + sealed_v2.split(":")[2]  # the same bytes, in the form that names no key
    assert Keyring(NEW, [OLD], index_key=OLD).open(ID_CARD, v1) == "11011119380315004X"
    assert not Keyring(OLD).is_current(v1)
    with pytest.raises(SealedValueError, match="does not open with any key"):
        Keyring(NEW).open(ID_CARD, v1)


def test_settings_name_the_retired_keys_and_refuse_them_without_an_index_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_DATA_KEY", NEW)
    monkeypatch.setenv("LINLI_DATA_KEYS_RETIRED", f'["{OLD}"]')
    with pytest.raises(ValidationError, match="LINLI_DATA_INDEX_KEY must be set when data keys are retired"):
        ServiceSettings()
    monkeypatch.setenv("LINLI_DATA_INDEX_KEY", OLD)
    settings = ServiceSettings()
    assert [k.get_secret_value() for k in settings.data_keys_retired] == [OLD]
    keyring = Keyring.from_settings(settings)
    assert keyring.open(PHONE, Keyring(OLD).seal(PHONE, MOBILE)) == MOBILE
    assert keyring.blind_index(PHONE, MOBILE) == Keyring(OLD).blind_index(PHONE, MOBILE)
    assert keyring.is_current(Keyring(SecretStr(NEW)).seal(PHONE, MOBILE))


class Base(DeclarativeBase):
    metadata = new_metadata()


class Card(IdMixin, Base):
    __tablename__ = "protection_test_card"

    phone_sealed: Mapped[str | None] = mapped_column(String(120))
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    note_sealed: Mapped[str | None] = mapped_column(String(200))

    phone = Sealed("phone_sealed", PHONE)
    note = Sealed("note_sealed", Purpose("test-note"))


CARDS = [SealedColumns(Card, {"phone_sealed": PHONE, "note_sealed": Purpose("test-note")})]


@pytest.fixture
async def cards(kit_engine: AsyncEngine) -> AsyncEngine:
    async with kit_engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    return kit_engine


def test_a_sealed_field_is_no_sql_expression() -> None:
    with pytest.raises(TypeError, match="phone is sealed: compare its blind index column"):
        Card.phone == MOBILE  # noqa: B015
    with pytest.raises(RuntimeError, match="outside any session"):
        _ = Card(phone_sealed=Keyring(NEW).seal(PHONE, MOBILE)).phone


async def test_models_read_sealed_fields_with_their_sessions_keyring_even_detached(cards: AsyncEngine) -> None:
    sessions = create_sessionmaker(cards, keyring=Keyring(NEW))
    async with sessions() as session, session.begin():
        keyring = keyring_of(session)
        session.add(Card(phone_sealed=keyring.seal(PHONE, MOBILE), phone_index=keyring.blind_index(PHONE, MOBILE)))
    async with sessions() as session:
        card = (
            await session.execute(select(Card).where(Card.phone_index == keyring.blind_index(PHONE, MOBILE)))
        ).scalar_one()
    assert (card.phone, card.note) == (MOBILE, None)  # after the session closed
    with pytest.raises(RuntimeError, match="carries no keyring"):
        keyring_of(create_sessionmaker(cards)())


async def test_resealing_moves_every_value_to_the_current_key_in_batches(cards: AsyncEngine) -> None:
    old = create_sessionmaker(cards, keyring=Keyring(OLD))
    phones = [f"+86139{n:08d}" for n in range(7)]
    async with old() as session, session.begin():
        keyring = keyring_of(session)
        for n, phone in enumerate(phones):
            note = keyring.seal(Purpose("test-note"), f"note {n}") if n % 2 else None
            session.add(Card(id=uuid.UUID(int=n + 1), phone_sealed=keyring.seal(PHONE, phone), note_sealed=note))
        session.add(Card(id=uuid.UUID(int=100)))  # nothing sealed: nothing to do
    rotated = create_sessionmaker(cards, keyring=Keyring(NEW, [OLD], index_key=OLD))
    assert await reseal(rotated, CARDS, batch=3) == len(phones)
    assert await reseal(rotated, CARDS, batch=3) == 0
    new_only = create_sessionmaker(cards, keyring=Keyring(NEW, index_key=OLD))
    async with new_only() as session:
        found: list[Any] = (await session.execute(select(Card).order_by(Card.id))).scalars().all()
    assert [c.phone for c in found] == [*phones, None]
    assert [c.note for c in found] == [f"note {n}" if n % 2 else None for n in range(7)] + [None]
