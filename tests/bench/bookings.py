"""Booking creation under 32 callers at once (``make bench``, ``--only bookings``): the write residents and
call-centre operators wait on.

The whole path a booking takes runs as in production, each in its own process: nats-server, the booking service
and the gateway (uvicorn, uvloop + httptools, as ``make run`` starts them), on SQLite and on PostgreSQL (a database
of its own, dropped after). The offering reaches the booking service as the registry would send it (an
``OfferingPublished`` event on NATS, applied by its catalog consumer); the funded one also gets a signed contract
(``ContractSigned``) and an official's personal entitlement of 30 meals a month. Operators then book through the
gateway for residents registered beforehand, ``connections`` requests at once (wrk, a Lua script giving every
request a resident and slot of its own: nobody books the same slot twice, and every slot has room for all, so
nothing should be refused; any non-2xx is counted and shown).

Interleaved with the bookings, in the same run and on the same database, the rounds load the booking service's
cheapest real write: an operator logging a call about a resident (``POST /api/v1/residents/{id}/calls``: one read
of the resident, one row inserted). Bookings/insert is the ratio of their throughputs. The booking service's CPU
per request (its process's user + system time over the round, from /proc, divided by the requests answered) is
the figure a busy machine disturbs least.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from service_kit.events.bus import connect, ensure_streams
from service_kit.events.contracts import ContractSigned, EventData, FundedOffering, OfferingPublished, WeeklyRule
from service_kit.events.envelope import Envelope
from service_kit.migrations import upgrade
from service_kit.settings import ServiceSettings
from service_kit.testing import DatabaseFactory
from service_kit.timeutil import SHANGHAI, local_now

ROOT = Path(__file__).resolve().parents[2]

# Targets: bookings at ≥ 0.3× the single-row insert's throughput, p99 ≤ 150 ms, ≤ 8 ms of booking-service CPU each.
RATIO_TARGET = 0.3
P99_TARGET_MS = 150.0
CPU_TARGET_MS = 8.0

# Hourly slots from 07:00 to 21:00 every day: 14 a day within the 30-day booking horizon.
EVERY_DAY = tuple(WeeklyRule(weekday=d, start="07:00", end="21:00") for d in range(7))
RESIDENTS = 256
PASSWORD = "bench-password-1"

WRK_SCRIPT = """\
-- Each request its own (resident, slot) pair, from the pairs file; the first at the offset given.
local pairs_file, offset = nil, 0
local residents, slots = {}, {}
local i = 0
local kind, token, offering = nil, nil, nil

init = function(args)
  kind, token, offering, offset = args[1], args[2], args[3], tonumber(args[4])
  for line in io.lines(args[5]) do table.insert(residents, line) end
  for line in io.lines(args[6]) do table.insert(slots, line) end
  i = offset
end

request = function()
  local n = i
  i = i + 1
  local resident = residents[(n % #residents) + 1]
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if kind == "booking" then
    local slot = slots[(math.floor(n / #residents) % #slots) + 1]
    local body = '{"offering_id":"' .. offering .. '","resident_id":"' .. resident .. '","slot_start":"' .. slot .. '"}'
    return wrk.format("POST", "/api/v1/bookings", headers, body)
  end
  local body = '{"reason":"service_question","note":"bench"}'
  return wrk.format("POST", "/api/v1/residents/" .. resident .. "/calls", headers, body)
end
"""


@dataclass
class Round:
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # booking-service CPU per answered request


@dataclass
class Row:
    label: str
    rounds: list[Round] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.rounds)

    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    raise ValueError(f"not a wrk duration: {text!r}")


class Load:
    """wrk against the gateway, each request a (resident, slot) pair not used before in this run."""

    def __init__(self, workdir: Path, gateway_url: str, token: str, residents: list[str], connections: int) -> None:
        self.workdir, self.url, self.token, self.connections = workdir, gateway_url, token, connections
        self.script = workdir / "bookings.lua"
        self.script.write_text(WRK_SCRIPT)
        self.residents_file = workdir / "residents.txt"
        self.residents_file.write_text("\n".join(residents) + "\n")
        self.next_pair: dict[str, int] = {}
        profile = os.environ.get("LINLI_BENCH_PROFILE_DIR")
        self.profile_dir, self.label = (Path(profile) if profile else None), ""

    def run(self, kind: str, offering: str, slots: list[str], seconds: float, pid: int) -> Round:
        slots_file = self.workdir / f"slots-{offering}.txt"
        if not slots_file.exists():
            slots_file.write_text("\n".join(slots) + "\n")
        offset = self.next_pair.get(offering, 0)
        command = [
            "wrk", "-t1", f"-c{self.connections}", f"-d{seconds:g}s", "--timeout", "30s", "--latency",
            "-s", str(self.script), self.url, "--",
            kind, self.token, offering, str(offset), str(self.residents_file), str(slots_file),
        ]  # fmt: skip
        profiler = None
        if self.profile_dir is not None and seconds > 1:
            # py-spy samples the booking service meanwhile (collapsed stacks; docs/write-path.md reads them).
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            out_file = self.profile_dir / f"{self.label}-{kind}-{offering[:8]}-{offset}.txt"
            pyspy = [str(ROOT / ".tools/bin/uvx"), "py-spy", "record", "--pid", str(pid), "--format", "raw", "--gil"]
            options = ["--rate", "200", "--duration", f"{seconds:g}", "--nonblocking", "--output", str(out_file)]
            profiler = subprocess.Popen(pyspy + options, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        cpu = _process_cpu(pid)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        cpu = _process_cpu(pid) - cpu
        if profiler is not None:
            profiler.wait()
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        # Requests still in flight when wrk stopped were sent too: the next round starts past them.
        self.next_pair[offering] = offset + requests + self.connections
        if self.next_pair[offering] >= len(slots) * RESIDENTS:
            raise RuntimeError("the bench ran out of (resident, slot) pairs: fewer seconds, or more residents")
        errors = 0
        if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
            errors += int(match.group(1))
        if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
            errors += sum(int(n) for n in match.groups())
        return Round(
            requests=requests,
            requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            p50_ms=_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
            p99_ms=_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
            errors=errors,
            cpu_ms=cpu * 1000 / max(1, requests),
        )


def _slots(days_ahead: tuple[int, int]) -> list[str]:
    """Every hourly slot of the offering between the given days ahead (inside the 30-day horizon)."""
    today = local_now().date()
    return [
        datetime.combine(today + timedelta(days=d), datetime.min.time(), tzinfo=SHANGHAI).replace(hour=h).isoformat()
        for d in range(*days_ahead)
        for h in range(7, 21)
    ]


async def _publish(nats_url: str, events: list[tuple[EventData, str]]) -> None:
    settings = ServiceSettings(nats_url=nats_url)
    nc = await connect(settings, name="bench-bookings")
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        for event, source in events:
            envelope = Envelope.wrap(event, source=source)
            await js.publish(envelope.type, envelope.payload(), headers=envelope.headers())
    finally:
        await nc.close()


def _offering_event(offering_id: uuid.UUID, provider_id: uuid.UUID, name: str) -> OfferingPublished:
    return OfferingPublished(
        offering_id=offering_id,
        provider_id=provider_id,
        provider_name="房山区长阳镇邻里养老驿站",
        category_code="elderly.meal_table",
        name_zh=name,
        name_en="Meal table (bench)",
        mode="at_center",
        price_fen=1500,
        duration_minutes=60,
        capacity_per_slot=100_000,
        weekly_rules=EVERY_DAY,
        status="published",
        version=1,
    )


def _sign_in(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _until_ok(send: Any, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        answer: httpx.Response = send()
        if answer.is_success or time.monotonic() > deadline:
            answer.raise_for_status()
            return answer
        time.sleep(0.2)


def _register(client: httpx.Client, headers: dict[str, str], count: int) -> list[str]:
    async def all_of_them() -> list[str]:
        async with httpx.AsyncClient(base_url=str(client.base_url), headers=headers, timeout=60) as aclient:
            gate = asyncio.Semaphore(8)

            async def one(n: int) -> str:
                body = {
                    "name": "王秀英",
                    "phone": f"139{uuid.uuid4().int % 10**8:08d}",
                    "eligibility_tags": ["age_80_plus"],
                    "consent": {"version": "2026-11", "channel": "phone"},
                }
                async with gate:
                    answer = await aclient.post("/api/v1/residents", json=body)
                answer.raise_for_status()
                return str(answer.json()["id"])

            return list(await asyncio.gather(*(one(n) for n in range(count))))

    return asyncio.run(all_of_them())


def measure(workdir: Path, database_url: str | None, seconds: float, rounds: int, connections: int) -> list[Row]:
    sys.path.insert(0, str(ROOT / "deploy"))
    from devstack import GATEWAY, SERVICES, DevStack

    booking = next(service for service in SERVICES if service.name == "booking")
    stack = DevStack(
        var_dir=workdir / "stack",
        database_urls={"booking": database_url} if database_url else {},
        # Every request here is one of two callers: the per-principal limit would answer 429 within a second.
        extra_env={"LINLI_LOG_LEVEL": "WARNING", "LINLI_RATE_LIMIT_PRINCIPAL": "1000000/second"},
    )
    try:
        stack.allocate_ports()
        for service in (booking, GATEWAY):
            upgrade(ROOT / service.directory, stack.database_url(service.name))
        stack.start_nats()
        stack.start_service(booking, stack.service_ports["booking"])
        stack.start_service(GATEWAY, stack.gateway_port)
        stack.bootstrap_accounts(
            [
                {"username": "bench-operator", "password": PASSWORD, "roles": ["operator"], "name": "话务员 小周"},
                {"username": "bench-official", "password": PASSWORD, "roles": ["official"]},
            ]
        )
        with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
            _until_ok(lambda: client.get("/.well-known/jwks.json"), timeout=120)
            _until_ok(lambda: httpx.get(f"{stack.service_url('booking')}/readyz"), timeout=120)
            operator = _sign_in(client, "bench-operator")
            official = _sign_in(client, "bench-official")
            provider_id = uuid.uuid4()
            plain, funded = uuid.uuid4(), uuid.uuid4()
            today = local_now().date()
            contract = ContractSigned(
                contract_id=uuid.uuid4(),
                provider_id=provider_id,
                title="房山区居家养老助餐服务项目（基准测试）",
                amount_fen=10**12,
                start_date=today - timedelta(days=1),
                end_date=today + timedelta(days=365),
                status="active",
                funded_offerings=(
                    FundedOffering(
                        offering_id=funded,
                        unit_price_fen=1500,
                        resident_price_fen=300,
                        quota=10_000_000,
                        eligibility_tags=("age_80_plus",),
                    ),
                ),
                occurred_at=datetime.now(UTC),
            )
            asyncio.run(
                _publish(
                    stack.nats_url,
                    [
                        (_offering_event(plain, provider_id, "老年餐桌（基准测试）"), "registry"),
                        (_offering_event(funded, provider_id, "助餐补贴（基准测试）"), "registry"),
                        (contract, "procurement"),
                    ],
                )
            )
            # The consumers apply them in a moment: the offering's rules answer once it is in the catalog.
            for offering in (plain, funded):
                _until_ok(lambda o=offering: client.get(f"/api/v1/availability/{o}/rules"))
            _until_ok(
                lambda: client.put(
                    f"/api/v1/entitlements/programs/{contract.contract_id}/{funded}",
                    json={"units_per_period": 1000, "period": "month", "unit": "booking"},
                    headers=official,
                )
            )
            residents = _register(client, operator, RESIDENTS)
        pid = stack.processes["booking"].pid
        load = Load(workdir, stack.gateway_url, operator["Authorization"].split()[1], residents, connections)
        load.label = f"{'postgresql' if database_url else 'sqlite'}-c{connections}"
        # Slots from the day after tomorrow on (past the 60-minute lead whatever the hour), one list per offering.
        slots = _slots((2, 29))
        rows = {
            "insert": Row("single-row insert: POST /residents/{id}/calls"),
            "plain": Row("booking, not funded"),
            "funded": Row("booking, funded (entitlement + programme pool)"),
        }
        kinds = {"insert": ("insert", str(plain)), "plain": ("booking", str(plain)), "funded": ("booking", str(funded))}
        # Warm-up: imports, pools, first queries of each path.
        for kind, target in kinds.values():
            load.run(kind, target, slots, 1.0, pid)
        for _ in range(rounds):
            for name, (kind, target) in kinds.items():
                rows[name].rounds.append(load.run(kind, target, slots, seconds, pid))
        return list(rows.values())
    finally:
        stack.stop()


def verdict(met: bool, note: str) -> str:
    return ("MET" if met else "MISSED") + note


def print_rows(backend: str, rows: list[Row], note: str) -> None:
    insert = rows[0]
    print(
        f"  {backend + ':':12s}{'':48s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'×insert':>7s} "
        f"{'CPU ms':>7s} {'non-2xx':>7s}"
    )
    for row in rows:
        rps = row.median("requests_per_second")
        ratio = rps / insert.median("requests_per_second")
        p99, cpu = row.median("p99_ms"), row.median("cpu_ms")
        print(
            f"  {'':12s}{row.label:48s} {rps:7.1f} {row.median('p50_ms'):7.1f} {p99:7.1f} {ratio:7.2f} "
            f"{cpu:7.2f} {row.errors():7d}"
        )
        if row is not insert:
            print(
                f"  {'':12s}  ratio {ratio:.2f}× (≥ {RATIO_TARGET}×: {verdict(ratio >= RATIO_TARGET, note)}), "
                f"p99 {p99:.0f} ms (≤ {P99_TARGET_MS:.0f}: {verdict(p99 <= P99_TARGET_MS, note)}), "
                f"CPU {cpu:.1f} ms/booking (≤ {CPU_TARGET_MS:g}: {verdict(cpu <= CPU_TARGET_MS, note)}; "
                f"{cpu / insert.median('cpu_ms'):.1f}× the insert's, which is what compares across machines)"
            )


def bench_bookings(
    workdir: Path, seconds: float, rounds: int, postgres_url: str | None, note: str = "", connections: int = 32
) -> None:
    if shutil.which("wrk") is None:
        print("bookings: not measured (wrk is not installed: apt-get install wrk)")
        return
    print(
        f"bookings: POST /api/v1/bookings through the gateway, {connections} connections (wrk -t1), each request a "
        f"resident and slot of its own; {rounds} round(s) of {seconds:g} s per row after a 1 s warm-up, rows taken in "
        f"turn, medians; booking service and gateway one process each; {os.cpu_count()} CPUs shared by all"
    )
    backends = [("sqlite", None)] + ([("postgresql", postgres_url)] if postgres_url else [])
    for backend, url in backends:
        database_url = None
        factory = None
        if url:
            factory = DatabaseFactory(workdir / f"bookings-{backend}", url)
            factory.root.mkdir(parents=True, exist_ok=True)
            try:
                database_url = factory.new(ROOT / "booking-service")
            except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: said, and the SQLite figures stand
                print(f"  {backend}: not measured ({exc.__class__.__name__}: {exc})")
                continue
        try:
            rows = measure(workdir / f"bookings-{backend}-run", database_url, seconds, rounds, connections)
        finally:
            if factory is not None:
                factory.drop_all()
        print_rows(backend, rows, note)
    print(
        "  ×insert: throughput over the single-row insert's (an operator logging a call: one read, one insert), "
        "measured in the same rounds; CPU ms: the booking service's process CPU per answered request."
    )


if __name__ == "__main__":  # python tests/bench/bookings.py [seconds] [rounds]: this part alone
    import tempfile

    with tempfile.TemporaryDirectory(prefix="linli-bench-bookings-") as tmp:
        bench_bookings(
            Path(tmp),
            float(sys.argv[1]) if len(sys.argv) > 1 else 5.0,
            int(sys.argv[2]) if len(sys.argv) > 2 else 3,
            os.environ.get("LINLI_BENCH_POSTGRES_URL"),
            connections=int(sys.argv[3]) if len(sys.argv) > 3 else 32,
        )
