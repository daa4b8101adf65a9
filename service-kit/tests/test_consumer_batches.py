"""A consumer applies a fetched batch in one transaction with its inbox rows, and exactly once whatever the batch
holds: events already applied, an event twice, a poison event, a whole batch delivered again."""

from __future__ import annotations

import time
import uuid

from nats.js import JetStreamContext
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.events.consumer import FETCH_SECONDS, ConsumerRunner, Subscription, apply_event
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope
from service_kit.events.tables import dead_letter, inbox_event
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

from .kit_service import applied, applied_counts, need, needs_subscription, record_need, running, waiting_on_a_lock
from .test_events import _value


async def publish(js: JetStreamContext, event: NeedSubmitted, event_id: str) -> None:
    """The event under ``event_id``, as a new stream message each time (past JetStream's duplicate window: a relay
    that crashed long ago, a competing replica's copy)."""
    envelope = Envelope.wrap(event, source="test", event_id=event_id)
    headers = envelope.headers() | {"Nats-Msg-Id": str(uuid.uuid4())}
    await js.publish(envelope.type, envelope.payload(), headers=headers)


def watched(subscription: Subscription, sessions: dict[str, list[str]], poison: str | None = None) -> Subscription:
    """Record which session ran the handler for each need (one for a whole batch), and fail on ``poison``."""
    record = subscription.handlers[NeedSubmitted]

    async def handler(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        sessions.setdefault(event.summary, []).append(session.info.setdefault("test_tag", str(uuid.uuid4())))
        if event.summary == poison:
            raise RuntimeError("cannot apply this need")
        await record(session, event, envelope)

    subscription.handlers[NeedSubmitted] = handler
    return subscription


async def test_a_batch_holding_an_applied_event_and_a_poison_one_applies_the_rest_once(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    runner_name = "kit-needs"
    ids = {key: str(uuid.uuid4()) for key in ("applied", "b", "poison", "c", "d")}
    events = {key: need(key) for key in ids}
    # "applied" went through this consumer before (its inbox row is there).
    assert await apply_event(
        kit_sessionmaker,
        runner_name,
        record_need,
        Envelope.wrap(events["applied"], source="t", event_id=ids["applied"]),
    )
    for key in ids:
        await publish(js, events[key], ids[key])

    sessions: dict[str, list[str]] = {}
    runner = ConsumerRunner(
        watched(needs_subscription(), sessions, poison="poison"),
        service="kit",
        sessionmaker=kit_sessionmaker,
        js=js,
        stream="LINLI",
        max_deliver=3,
        retry_base_seconds=0.05,
    )
    async with running(runner.run()):
        await eventually(lambda: _value(runner.dead_lettered == 1 and runner.applied == 3))

    assert await applied_counts(kit_sessionmaker) == {"applied": 1, "b": 1, "c": 1, "d": 1}
    assert (runner.applied, runner.duplicates) == (3, 1)
    # The poison need's handler ran once per delivery: its first failed the batch, and was not run again.
    assert len(sessions["poison"]) == 3
    assert sessions["b"][0] == sessions["poison"][0]  # in one batch, rolled back, then b alone
    assert len(set(sessions["b"])) == len(sessions["b"]) == 2
    assert "applied" not in sessions  # found in the inbox before any handler ran
    async with kit_sessionmaker() as session:
        letters = (await session.execute(select(dead_letter.c.event_id, dead_letter.c.deliveries))).all()
    assert [tuple(letter) for letter in letters] == [(ids["poison"], 3)]


async def test_an_event_twice_in_one_batch_is_applied_once(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """The batch's inbox rows refuse the second copy: the batch rolls back and each event goes on its own."""
    ids = {key: str(uuid.uuid4()) for key in ("e", "f", "g")}
    events = {key: need(key) for key in ids}
    for key in ("e", "f", "f", "g"):
        await publish(js, events[key], ids[key])
    runner = ConsumerRunner(needs_subscription(), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied + runner.duplicates == 4))
    assert await applied_counts(kit_sessionmaker) == {"e": 1, "f": 1, "g": 1}
    assert (runner.applied, runner.duplicates, runner.dead_lettered) == (3, 1, 0)


async def test_a_whole_batch_delivered_again_changes_nothing(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    keys = [f"n{i}" for i in range(8)]
    ids = {key: str(uuid.uuid4()) for key in keys}
    events = {key: need(key) for key in keys}
    for key in keys:
        await publish(js, events[key], ids[key])
    sessions: dict[str, list[str]] = {}
    runner = ConsumerRunner(
        watched(needs_subscription(), sessions), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI"
    )
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied == 8))
        # All eight fetched at once, applied in one transaction.
        assert len({session for key in keys for session in sessions[key]}) == 1
        for key in keys:
            await publish(js, events[key], ids[key])
        await eventually(lambda: _value(runner.duplicates == 8))

    assert await applied_counts(kit_sessionmaker) == dict.fromkeys(keys, 1)
    assert runner.applied == 8
    assert all(len(sessions[key]) == 1 for key in keys)  # no handler ran for the second delivery


async def test_an_event_a_competing_replica_is_applying_is_waited_for_and_the_rest_applied_in_the_batch(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """A replica of the same consumer is applying ``x`` (its inbox row written, not committed) when this one fetches
    ``x``, ``y`` and ``z``. The batch's inbox rows wait for it; once it commits, ``x`` is a duplicate, and ``y`` and
    ``z`` are applied together in the batch's transaction: nothing rolled back, no event applied twice."""
    runner_name = "kit-needs"
    ids = {key: str(uuid.uuid4()) for key in ("x", "y", "z")}
    sessions: dict[str, list[str]] = {}
    runner = ConsumerRunner(
        watched(needs_subscription(), sessions), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI"
    )
    async with kit_sessionmaker() as replica, replica.begin():
        envelope = Envelope.wrap(need("x"), source="t", event_id=ids["x"])
        row = {"consumer": runner_name, "event_id": ids["x"], "type": envelope.type, "processed_at": utcnow()}
        await replica.execute(insert(inbox_event).values(row))
        await record_need(replica, need("x"), envelope)
        for key in ids:
            await publish(js, need(key), ids[key])
        async with running(runner.run()):
            if replica.get_bind().dialect.name == "postgresql":  # the batch's insert waits on the replica's row
                await eventually(lambda: waiting_on_a_lock(kit_sessionmaker))
            await replica.commit()
            await eventually(lambda: _value(runner.applied + runner.duplicates == 3))
    assert await applied_counts(kit_sessionmaker) == {"x": 1, "y": 1, "z": 1}
    assert (runner.applied, runner.duplicates) == (2, 1)
    assert "x" not in sessions
    assert sessions["y"] == sessions["z"]  # one run each, in one transaction: the batch was not rolled back


async def test_an_event_declined_on_committed_state_is_judged_again_after_those_applied_before_it(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """``wanted`` declines a follow-up until its lead is applied. One by one, the lead is committed before the
    follow-up is judged; in a batch it is not yet, so the follow-up is judged again in the batch's transaction."""

    async def wanted(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> bool:
        if event.summary != "follow-up":
            return True
        lead = await session.execute(select(applied.c.key).where(applied.c.key == "lead"))
        return lead.first() is not None

    subscription = needs_subscription()
    subscription.wanted = wanted
    await publish(js, need("lead"), str(uuid.uuid4()))
    await publish(js, need("follow-up"), str(uuid.uuid4()))
    runner = ConsumerRunner(subscription, service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied + runner.skipped == 2))
    assert await applied_counts(kit_sessionmaker) == {"lead": 1, "follow-up": 1}
    assert (runner.applied, runner.skipped) == (2, 0)


async def test_a_subscription_that_opts_out_applies_each_event_in_its_own_transaction(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    keys = [f"m{i}" for i in range(4)]
    for key in keys:
        await publish(js, need(key), str(uuid.uuid4()))
    sessions: dict[str, list[str]] = {}
    subscription = watched(needs_subscription(), sessions)
    subscription.batch = False
    runner = ConsumerRunner(subscription, service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    async with running(runner.run()):
        await eventually(lambda: _value(runner.applied == 4))
    assert len({sessions[key][0] for key in keys}) == 4
    assert await applied_counts(kit_sessionmaker) == dict.fromkeys(keys, 1)


async def test_the_next_fetch_asks_for_what_waits_and_for_one_after_a_fetch_found_nothing(
    kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """A fetch that found nothing can leave its pull request open on the server, and a fetch of several would
    hold a message delivered there until the next one came (nats.py#933: a worker's invitation waited 100 ms
    for the next completion). So: what the server says still waits, up to a batch; one after a timeout, until
    such a request is surely gone; otherwise a batch."""
    for key in ("p", "q", "r"):
        await publish(js, need(key), str(uuid.uuid4()))
    runner = ConsumerRunner(needs_subscription(), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI")
    await runner.ensure_consumer()
    pulled = await js.pull_subscribe_bind(durable=runner.durable, stream="LINLI")
    first = await pulled.fetch(1, timeout=5)
    assert runner._waiting_after(first) == 2  # two more wait: ask for those
    rest = await pulled.fetch(2, timeout=5)
    assert runner._waiting_after(rest) == runner.batch_size  # none known to wait, no timeout lately: a batch
    runner._timed_out_at = time.monotonic()  # as a fetch that found nothing leaves it
    assert runner._waiting_after(rest) == 1
    runner._timed_out_at = time.monotonic() - 2 * FETCH_SECONDS  # any request it left has expired since
    assert runner._waiting_after(rest) == runner.batch_size
    for msg in first + rest:
        await msg.ack()
