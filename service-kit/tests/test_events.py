"""The event backbone against a real nats-server: outbox relay, inbox consumer, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.events.consumer import ConsumerRunner, apply_event
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope, MalformedEvent
from service_kit.events.outbox import OutboxRelay, emit, pending_count
from service_kit.events.tables import dead_letter, inbox_event, outbox_event
from service_kit.testing import eventually

from .kit_service import applied_counts, need, needs_subscription, record_need, running, waiting_on_a_lock


async def publish_direct(js: JetStreamContext, event: NeedSubmitted, *, event_id: str | None = None) -> str:
    envelope = Envelope.wrap(event, source="test", event_id=event_id)
    await js.publish(envelope.type, envelope.payload(), headers=envelope.headers())
    return envelope.id


async def test_only_committed_events_leave_the_outbox(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    with contextlib.suppress(RuntimeError):
        async with kit_sessionmaker() as session, session.begin():
            await emit(session, need("rolled-back"))
            raise RuntimeError("the state change failed")
    async with kit_sessionmaker() as session, session.begin():
        await emit(session, need("committed"))

    relay = OutboxRelay(kit_sessionmaker, js, source="kit-test")
    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0

    sub = await js.pull_subscribe(NeedSubmitted.type, durable="check")
    [msg] = await sub.fetch(1, timeout=15)  # published and acknowledged above: it is there
    envelope = Envelope.from_message(msg.headers, msg.data)
    assert envelope.type == "linli.need.submitted.v1"
    assert envelope.source == "kit-test"
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == envelope.id == msg.headers["ce-id"]
    assert msg.headers["ce-specversion"] == "1.0"
    parsed = envelope.parse()
    assert isinstance(parsed, NeedSubmitted)
    assert parsed.summary == "committed"
    async with kit_sessionmaker() as session:
        assert await pending_count(session) == 0


async def test_two_relays_never_publish_a_row_twice(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, report_figure: Callable[[str], None]
) -> None:
    for batch in range(10):
        async with kit_sessionmaker() as session, session.begin():
            for i in range(30):
                await emit(session, need(f"r{batch}-{i}"))
    relays = [OutboxRelay(kit_sessionmaker, js, source="kit-test", batch_size=16) for _ in range(2)]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.publish_pending():
            pass

    await asyncio.gather(*(drain(r) for r in relays))
    counts = [r.published_total for r in relays]
    report_figure(f"two relays on one outbox of 300 events published {counts} (sum {sum(counts)})")
    assert sum(counts) == 300
    info = await js.stream_info("LINLI")
    assert info.state.messages == 300


async def test_a_relay_takes_back_at_once_what_it_leased_before_failing_and_leaves_another_relay_s_lease(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """A pass that leased rows and failed before marking them (NATS went away mid-publish) leaves them leased to its
    relay for 30 s: that relay's next pass publishes them at once, in the order they were written; another relay
    keeps off them until the lease runs out."""
    async with kit_sessionmaker() as session, session.begin():
        for i in range(5):
            await emit(session, need(f"leased-{i}"))
    failed, other = (OutboxRelay(kit_sessionmaker, js, source="kit-test", batch_size=3) for _ in range(2))
    leased = await failed._claim()  # the pass that failed got this far
    assert [row["seq"] for row in leased] == sorted(row["seq"] for row in leased)
    assert len(leased) == 3

    assert await other.publish_pending() == 2  # only the two nobody holds
    assert await failed.publish_pending() == 3
    assert await failed.publish_pending() == await other.publish_pending() == 0

    sub = await js.pull_subscribe(NeedSubmitted.type, durable="leases")
    messages = await sub.fetch(5, timeout=15)
    summaries = [Envelope.from_message(m.headers, m.data).data["summary"] for m in messages]
    assert sorted(summaries) == [f"leased-{i}" for i in range(5)]
    assert summaries[2:] == ["leased-0", "leased-1", "leased-2"]  # the failed pass's rows, in the order written


async def test_redelivered_event_is_applied_once(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    event = need("once")
    event_id = str(uuid.uuid4())
    await publish_direct(js, event, event_id=event_id)
    # The same event again, past the duplicate window (as after a relay crash long ago): a new stream message.
    envelope = Envelope.wrap(event, source="test", event_id=event_id)
    headers = envelope.headers() | {"Nats-Msg-Id": f"{event_id}-again"}
    await js.publish(envelope.type, envelope.payload(), headers=headers)

    runner = ConsumerRunner(needs_subscription(), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied + runner.duplicates == 2))
    assert await applied_counts(kit_sessionmaker) == {"once": 1}
    assert (runner.applied, runner.duplicates) == (1, 1)


async def test_events_a_consumer_does_not_want_are_acknowledged_without_a_write(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """``Subscription.wanted`` declines an event after a read: no inbox row, no handler, and it is not redelivered."""
    subscription = needs_subscription()
    asked: list[str] = []

    async def wanted(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> bool:
        asked.append(event.summary)
        # It reads committed state (here: what was applied so far) in its own read-only session.
        await session.execute(select(func.count()).select_from(inbox_event))
        return not event.summary.startswith("skip")

    subscription.wanted = wanted
    skipped_ids = [await publish_direct(js, need(f"skip-{n}")) for n in range(3)]
    await publish_direct(js, need("keep"))
    runner = ConsumerRunner(subscription, service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied + runner.skipped == 4))
    assert (runner.applied, runner.skipped, runner.duplicates) == (1, 3, 0)
    assert await applied_counts(kit_sessionmaker) == {"keep": 1}
    assert sorted(asked) == ["keep", "skip-0", "skip-1", "skip-2"]
    async with kit_sessionmaker() as session:
        kept = await session.scalars(select(inbox_event.c.event_id).where(inbox_event.c.consumer == runner.durable))
        assert not set(skipped_ids) & set(kept.all())
    # Acknowledged, so never redelivered (the acks went out on this connection before this request).
    info = await js.consumer_info("LINLI", runner.durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_poison_message_is_dead_lettered_and_the_stream_keeps_flowing(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, report_figure: Callable[[str], None]
) -> None:
    attempts: list[str] = []
    subscription = needs_subscription()
    record = subscription.handlers[NeedSubmitted]

    async def fragile(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        attempts.append(event.summary)
        if event.summary == "poison":
            raise RuntimeError("cannot apply this need")
        await record(session, event, envelope)

    subscription.handlers[NeedSubmitted] = fragile
    await publish_direct(js, need("before"))
    await publish_direct(js, need("poison"))
    await publish_direct(js, need("after"))
    # A message that is not a CloudEvent at all goes straight to the dead letters.
    await js.publish(NeedSubmitted.type, b"{not json", headers={"Nats-Msg-Id": "garbage"})

    runner = ConsumerRunner(
        subscription,
        service="kit",
        sessionmaker=kit_sessionmaker,
        js=js,
        stream="LINLI",
        max_deliver=3,
        retry_base_seconds=0.05,
    )
    async with running(runner.run()):
        await eventually(lambda: _value(runner.dead_lettered == 2))
    report_figure(
        f"poison message: {attempts.count('poison')} attempts, then dead-lettered; messages after it applied: "
        f"{(await applied_counts(kit_sessionmaker)).get('after', 0)}; dead letters {runner.dead_lettered}"
    )
    assert attempts.count("poison") == 3
    assert await applied_counts(kit_sessionmaker) == {"before": 1, "after": 1}
    async with kit_sessionmaker() as session:
        rows = (await session.execute(select(dead_letter).order_by(dead_letter.c.created_at))).all()
    letters = {r._mapping["type"]: r._mapping for r in rows}
    assert letters[NeedSubmitted.type]["deliveries"] == 3
    assert "cannot apply this need" in letters[NeedSubmitted.type]["error"]
    assert letters["unknown"]["deliveries"] == 1
    dlq = await js.stream_info("LINLI_DLQ")
    assert dlq.state.messages == 2


async def test_envelope_rejects_what_is_not_a_linli_event() -> None:
    good = Envelope.wrap(need("x"), source="test")
    with pytest.raises(MalformedEvent):
        Envelope.from_message({}, good.payload())
    with pytest.raises(MalformedEvent):
        Envelope.from_message(good.headers(), b"[1, 2]")
    bad_type = good.headers() | {"ce-type": "linli.unknown.v1"}
    with pytest.raises(MalformedEvent):
        Envelope.from_message(bad_type, good.payload()).parse()
    wrong_payload = Envelope.from_message(good.headers(), b'{"need_id": "not-a-uuid"}')
    with pytest.raises(MalformedEvent):
        wrong_payload.parse()


async def test_inbox_records_every_applied_event(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    for i in range(5):
        await publish_direct(js, need(f"n{i}"))
    runner = ConsumerRunner(needs_subscription(), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied == 5))
    async with kit_sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(inbox_event))).scalar_one()
    assert count == 5


async def test_two_events_racing_for_one_report_both_apply_and_it_is_written_once(
    kit_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two events about one thing, applied at the same moment, both decide to write the one report it gets (an
    outbox event named by what it is about). The loser's unique-key violation is not the event's failure: it runs
    again, sees the winner's report and applies without writing another."""
    report_id = str(uuid.uuid4())
    both_looked = asyncio.Barrier(2)
    postgres = kit_sessionmaker.kw["bind"].dialect.name == "postgresql"

    async def report_once(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        found = await session.execute(select(outbox_event.c.event_id).where(outbox_event.c.event_id == report_id))
        if found.first() is not None:
            return
        if postgres:  # both have seen no report before either writes one (SQLite runs writers one at a time)
            await both_looked.wait()
        await emit(session, event, event_id=report_id)

    first, second = (Envelope.wrap(need(key), source="test") for key in ("first", "second"))
    results = await asyncio.gather(
        apply_event(kit_sessionmaker, "kit-reports", report_once, first),
        apply_event(kit_sessionmaker, "kit-reports", report_once, second),
    )

    assert results == [True, True]
    async with kit_sessionmaker() as session:
        reports = (await session.execute(select(func.count()).where(outbox_event.c.event_id == report_id))).scalar_one()
        inbox = (await session.execute(select(func.count()).select_from(inbox_event))).scalar_one()
    assert (reports, inbox) == (1, 2)


async def test_one_event_applied_by_two_replicas_at_once_changes_things_once(
    kit_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two replicas of a consumer hold the same event (redelivered to the second while the first still applied
    it). The second's inbox row waits for the first's transaction; once that commits, the second finds the event
    applied and runs no handler."""
    envelope = Envelope.wrap(need("twice"), source="test")
    ran: list[str] = []
    release = asyncio.Event()
    postgres = kit_sessionmaker.kw["bind"].dialect.name == "postgresql"

    async def held(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        ran.append(envelope.id)
        if postgres:  # open until the other replica waits (SQLite runs writers one at a time)
            await release.wait()
        await record_need(session, event, envelope)

    first = asyncio.create_task(apply_event(kit_sessionmaker, "kit-needs", held, envelope))
    await eventually(lambda: _value(bool(ran)))
    second = asyncio.create_task(apply_event(kit_sessionmaker, "kit-needs", held, envelope))
    if postgres:
        await eventually(lambda: waiting_on_a_lock(kit_sessionmaker))
    release.set()

    assert await asyncio.gather(first, second) == [True, False]
    assert ran == [envelope.id]
    assert await applied_counts(kit_sessionmaker) == {"twice": 1}


async def _value(value: bool) -> bool:
    return value
