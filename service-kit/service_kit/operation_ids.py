"""Readable operation ids: a client generated from the OpenAPI document (the mobile app's TypeScript client) names
its calls by them, so ``create_booking`` is ``createBooking`` rather than FastAPI's
``create_booking_api_v1_bookings_post``.

An endpoint's id is its function's name in lower camel case, unless its declaration says ``operation_id=``
(where two endpoints of the aggregate share a function name). Every id is unique across the gateway's aggregated
document, and a change of one fails ``tests/test_typescript_client.py`` until the committed list
(``clients/typescript/operation-ids.txt``) says so: a renamed operation breaks every app built on the old name.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.routing import APIRoute


def camel_case(name: str) -> str:
    """``list_my_bookings`` → ``listMyBookings``."""
    first, *rest = name.strip("_").split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest if part)


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function`` for every Linli app (services and gateway)."""
    return camel_case(route.name)


def prefixed(prefix: str) -> Callable[[APIRoute], str]:
    """The ids of a router whose endpoints follow a standard of their own (HSDS, Open311) and would otherwise share
    names with Linli's own (``listServices``): ``hsdsListServices``, ``open311ListServices``."""

    def generate(route: APIRoute) -> str:
        name = camel_case(route.name)
        return prefix + name[:1].upper() + name[1:]

    return generate
