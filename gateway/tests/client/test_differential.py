"""The gateway's HTTP/1.1 client against h11, the reference parser: the same generated requests and answers go
through both, and what each accepts, refuses and reads must agree.

Requests: what the client writes (or refuses to write) for a generated method, target and headers, against what
h11 would write; the bytes the client put on the wire are parsed by h11 as a server and must say exactly what
was asked. Answers: the same bytes, sent by a raw service over a real socket, are read by the client and fed to
h11 as a client; both must accept or refuse the answer, and agree on its status, headers and body.

Where the two are meant to differ, the difference is named (``REQUEST_STRICTER``, ``answer_difference``); every
other disagreement fails, with the bytes. The generator is seeded and makes a fixed number of examples: the same
cases every run, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h11

from gateway.http1 import BrokenResponse, Disconnected, InvalidRequest, Pool
from service_kit.testing import listening_socket

SEED = 23_2026
REQUESTS = 2000
ANSWERS = 2000

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "M-SEARCH"]
NAMES = ["Accept", "Accept-Language", "Authorization", "X-Request-ID", "X-Forwarded-For", "Content-Type", "Etag"]
# Characters that break a token, a target or a value in one way or another, and some that do not.
NOISE = [" ", "\t", "\r", "\n", "\r\n", "\x00", "\x01", "\x0b", "\x0c", "\x1f", "\x7f", ":", "(", "@", '"', "é", "居"]
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TARGET_CHARS = "abcxyz0123456789-._~%/?=&+;,:@!$'()*"
VALUE_CHARS = TOKEN_CHARS + ' ()<>@,;:\\"/[]?={}' + "éü"
HOST = "127.0.0.1:8102"


def word(rng: random.Random, alphabet: str, low: int = 1, high: int = 8) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def noisy(rng: random.Random, text: str, chance: float) -> str:
    """``text``, or ``text`` with one noise character put somewhere in it."""
    if rng.random() >= chance:
        return text
    at = rng.randint(0, len(text))
    return text[:at] + rng.choice(NOISE) + text[at:]


# ---------------------------------------------------------------------------------------------------- requests


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def as_h11(self) -> h11.Request | None:
        """h11's request for the same fields (None when h11 refuses them), as the client frames it."""
        headers: list[tuple[bytes, bytes]] = [(b"Host", HOST.encode())]
        try:
            headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]
            if self.body or self.method in ("POST", "PUT", "PATCH"):
                headers.append((b"Content-Length", str(len(self.body)).encode()))
            return h11.Request(
                method=self.method.encode("latin-1"), target=self.target.encode("latin-1"), headers=headers
            )
        except (h11.LocalProtocolError, UnicodeEncodeError):
            return None


def generated_requests(rng: random.Random, count: int) -> Iterator[Request]:
    for _ in range(count):
        method = rng.choice(METHODS) if rng.random() < 0.9 else word(rng, TOKEN_CHARS)
        target = "/" + word(rng, TARGET_CHARS, 0, 30)
        headers = []
        for _ in range(rng.randint(0, 5)):
            name = rng.choice(NAMES) if rng.random() < 0.7 else word(rng, TOKEN_CHARS)
            if rng.random() < 0.04:
                name = rng.choice(["Host", "Content-Length", "transfer-encoding"])
            value = word(rng, VALUE_CHARS, 0, 20)
            if rng.random() < 0.05:
                value = rng.choice([" ", "\t"]) + value if rng.random() < 0.5 else value + rng.choice([" ", "\t"])
            headers.append((noisy(rng, name, 0.08), noisy(rng, value, 0.15)))
        body = rng.randbytes(rng.randint(0, 40)) if method in ("POST", "PUT", "PATCH") or rng.random() < 0.1 else b""
        yield Request(noisy(rng, method, 0.05), noisy(rng, target, 0.1), headers, body)


def request_stricter(request: Request) -> str | None:
    """Why the client may refuse what h11 writes: h11 lets control characters other than NUL, CR, LF, VT and FF
    into a header value (RFC 9110 §5.5 allows none but HTAB), and the client frames the message and names the host
    itself (a caller's Host, Content-Length or Transfer-Encoding is not passed on)."""
    for name, value in request.headers:
        if name.lower() in ("host", "content-length", "transfer-encoding"):
            return "framing and host are the client's own"
        if re.search(r"[\x01-\x08\x0e-\x1f\x7f]", value):
            return "a control character in a header value"
    return None


def whitespace_at_the_ends(request: Request) -> bool:
    """h11 refuses to write a value with a space or tab at either end; the client writes it, and every parser (h11
    included) reads the value without them (RFC 9112 §5: optional whitespace around a value is not part of it)."""
    return any(value != value.strip(" \t") for _, value in request.headers)


Fields = tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes]  # method, target, headers, body


def h11_reads_request(wire: bytes) -> Fields:
    """What h11, as a server, reads in the bytes the client wrote: one whole request, nothing more."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(wire)
    request = server.next_event()
    assert isinstance(request, h11.Request), request
    body = b""
    while not isinstance(event := server.next_event(), h11.EndOfMessage):
        assert isinstance(event, h11.Data), event
        body += event.data
    assert server.trailing_data == (b"", False), "more was written than one request"
    return request.method, request.target, list(request.headers), body


def asked_for(request: Request, host: str) -> Fields:
    """The request as the client was asked to send it, as a server reads it (names in lower case, values without
    the optional whitespace at their ends), with the Host and Content-Length the client adds."""
    headers = [(b"host", host.encode())]
    headers += [(name.lower().encode(), value.strip(" \t").encode("latin-1")) for name, value in request.headers]
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        headers.append((b"content-length", str(len(request.body)).encode()))
    return request.method.encode(), request.target.encode(), headers, request.body


@asynccontextmanager
async def capturing_service() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A raw service that keeps the bytes of each request (head and body) and answers 204."""
    captured: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                captured.append(head + body)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=listening_socket())
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", captured


async def test_what_the_client_writes_is_what_h11_would_write_and_reads_back_as_asked() -> None:
    rng = random.Random(SEED)
    written = refused = 0
    disagreements: list[str] = []
    async with capturing_service() as (url, captured):
        pool = Pool(url, limit=1, keepalive_seconds=30, connect_timeout_seconds=5)
        host = url.removeprefix("http://")
        for request in generated_requests(rng, REQUESTS):
            reference = request.as_h11()
            try:
                response = await pool.request(request.method, request.target, request.headers, request.body, seconds=5)
            except InvalidRequest:
                refused += 1
                if reference is not None and request_stricter(request) is None:
                    disagreements.append(f"refused what h11 writes: {request}")
                continue
            await response.read()
            response.release()
            written += 1
            if reference is None and not whitespace_at_the_ends(request):
                disagreements.append(f"wrote what h11 refuses: {request}")
                continue
            try:
                read = h11_reads_request(captured[-1])
            except (h11.RemoteProtocolError, AssertionError) as exc:
                disagreements.append(f"h11 cannot read what was written ({exc!r}): {captured[-1]!r}")
                continue
            if read != asked_for(request, host):
                disagreements.append(f"h11 reads {read!r}, not what was asked: {request}")
        pool.close()
    assert not disagreements, "\n".join(disagreements[:20])
    # The generator reaches both sides of the line (so the comparison means something).
    assert written > REQUESTS / 3
    assert refused > REQUESTS / 10


# ----------------------------------------------------------------------------------------------------- answers


@dataclass
class Read:
    """An answer as read: status, the headers other than its framing, the body."""

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


FRAMING = (b"content-length", b"transfer-encoding")


def comparable(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower(), value.strip(b" \t")) for name, value in headers if name.lower() not in FRAMING]


def generated_answers(rng: random.Random, count: int) -> Iterator[bytes]:
    for _ in range(count):
        eol = "\r\n" if rng.random() < 0.97 else "\n"
        status = rng.choice([200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503])
        reason = rng.choice(["OK", "Fine", "Not Found", "", "好的", "A\tB"])
        line = f"HTTP/1.1 {status} {reason}" if rng.random() < 0.9 else f"HTTP/1.1 {status}"
        if rng.random() < 0.04:
            line = rng.choice(
                ["HTTP/1.0 200 OK", "HTTP/1.1 2x0 OK", "HTTP/1.1 2000 OK", "HTTP/11 200 OK", "HTTP/1.1  200"]
            )
        lines = [noisy(rng, line, 0.03)]
        if rng.random() < 0.05:
            lines = ["HTTP/1.1 100 Continue", "", *lines]
        for _ in range(rng.randint(0, 5)):
            name = noisy(rng, rng.choice(NAMES) if rng.random() < 0.7 else word(rng, TOKEN_CHARS), 0.08)
            value = noisy(rng, word(rng, VALUE_CHARS, 0, 20), 0.15)
            separator = ": " if rng.random() < 0.97 else rng.choice([" : ", ":", ":\t", "\t: "])
            lines.append(name + separator + value)
            if rng.random() < 0.02:
                lines.append(" folded onto the line before")
        body = rng.randbytes(rng.randint(0, 60)) if status not in (204, 304) or rng.random() < 0.1 else b""
        framing = rng.choice(["length", "length", "chunked", "chunked", "until close", "odd length", "odd chunks"])
        payload = body
        if framing in ("length", "odd length"):
            length = str(len(body))
            if framing == "odd length":
                length = rng.choice(
                    [
                        f"{length}, {length}",
                        f"{length}, {len(body) + 1}",
                        f"+{length}",
                        f"-{length}",
                        f"0x{length}",
                        f"{length}x",
                        str(len(body) + 5),
                        " " + length,
                        length + " ",
                        "",
                        "99999999999999999999999",
                    ]
                )
                if rng.random() < 0.2:
                    lines.append(f"Content-Length: {len(body)}")
            lines.append(f"Content-Length: {length}")
        elif framing in ("chunked", "odd chunks"):
            chunks, at = [], 0
            while at < len(body):
                size = rng.randint(1, 20)
                extension = ";name=value" if rng.random() < 0.1 else ""
                chunks.append(b"%x%s\r\n%s\r\n" % (len(body[at : at + size]), extension.encode(), body[at : at + size]))
                at += size
            trailer = b"X-Trailer: 1\r\n" if rng.random() < 0.1 else b""
            payload = b"".join(chunks) + b"0\r\n" + trailer + b"\r\n"
            coding = "chunked"
            if framing == "odd chunks":
                odd = rng.choice(["hex", "cut", "gzip", "gzip, chunked", "chunked, gzip", "both", "huge", "twice"])
                if odd == "hex":
                    payload = b"zz\r\n" + payload
                elif odd == "cut":
                    payload = payload[: rng.randint(0, max(0, len(payload) - 1))]
                elif odd in ("gzip", "gzip, chunked", "chunked, gzip"):
                    coding = odd
                elif odd == "both":
                    lines.append(f"Content-Length: {len(payload)}")
                elif odd == "huge":
                    payload = b"fffffffffffffffffffff\r\n" + payload
                else:
                    lines.append("Transfer-Encoding: chunked")
            lines.append(f"Transfer-Encoding: {coding}")
        head = eol.join(lines) + eol + eol
        yield head.encode("utf-8") + payload


def h11_reads_answer(wire: bytes) -> Read | None:
    """What h11, as a client that sent a GET, reads in ``wire`` followed by the connection's end (None: refused)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", HOST)]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    client.receive_data(b"")
    read: Read | None = None
    try:
        while True:
            event = client.next_event()
            if isinstance(event, h11.Response):
                read = Read(event.status_code, comparable(list(event.headers)))
            elif isinstance(event, h11.Data) and read is not None:
                read.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return read
            elif not isinstance(event, h11.InformationalResponse):
                return None  # the connection ended before the answer did
    except h11.RemoteProtocolError:
        return None


async def client_reads_answer(url: str) -> Read | None:
    pool = Pool(url, limit=1, keepalive_seconds=30, connect_timeout_seconds=5)
    try:
        response = await pool.request("GET", "/", (), b"", seconds=5)
        try:
            return Read(response.status, comparable(response.raw_headers), await response.read())
        finally:
            response.release()
    except (BrokenResponse, Disconnected):
        return None
    finally:
        pool.close()


def answer_difference(wire: bytes, ours: Read | None, reference: Read | None) -> str | None:
    """Why the client may refuse an answer h11 reads; None when it must not. The client never reads an answer
    h11 refuses, nor reads one differently: only these, where it is stricter (llhttp's strict mode, and the
    client's own header check), are allowed. A gateway may refuse what it cannot pass on faithfully (RFC 9112
    §5.2: an obs-fold "MUST" be replaced or the message refused with 502)."""
    if ours is not None or reference is None:
        return None
    wire = wire.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")  # the interim answer both skip
    end = wire.find(b"\r\n\r\n")
    head = wire if end < 0 else wire[:end]
    if re.search(rb"(?<!\r)\n", head) or (wire.find(b"\n\n") != -1 and (end < 0 or wire.find(b"\n\n") < end)):
        return "a line ended by LF alone (h11 accepts it; llhttp does not)"
    if re.search(rb"\r\n[ \t]", head):
        return "a header folded onto a second line (obs-fold)"
    lines = head.split(b"\r\n")[1:]
    if any(re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line.partition(b":")[2]) for line in lines):
        return "a control character in a header value (h11 lets all but NUL, CR, LF, VT and FF through)"
    lengths = [line for line in lines if line.lower().startswith(b"content-length:")]
    if len(lengths) > 1 or any(b"," in line for line in lengths):
        return "Content-Length twice, or a list of lengths (h11 takes equal values as one)"
    if lengths and any(line.lower().startswith(b"transfer-encoding:") for line in lines):
        return "both Content-Length and Transfer-Encoding (h11 lets the coding win; RFC 9112 §6.3 allows refusing)"
    if any(line != line.rstrip(b" \t") for line in lengths):
        return "whitespace after a Content-Length's digits (llhttp refuses it)"
    return None


async def test_the_client_reads_answers_as_h11_does() -> None:
    rng = random.Random(SEED)
    answers = list(generated_answers(rng, ANSWERS))
    pending: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(pending.get_nowait())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    accepted = 0
    disagreements: list[str] = []
    server = await asyncio.start_server(handle, sock=listening_socket())
    async with server:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        for wire in answers:
            pending.put_nowait(wire)
            ours, reference = await client_reads_answer(url), h11_reads_answer(wire)
            accepted += ours is not None
            if ours != reference and answer_difference(wire, ours, reference) is None:
                disagreements.append(f"{wire!r}\n    client: {ours}\n    h11:    {reference}")
    assert not disagreements, f"{len(disagreements)} answers read differently:\n" + "\n".join(disagreements[:8])
    assert ANSWERS / 3 < accepted < ANSWERS * 0.95
