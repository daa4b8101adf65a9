"""Three services asked at once through the gateway's upstream session, each answer bounded by its own timeout:
a part that fails or is late becomes ``unavailable`` and never holds the others up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import structlog

from gateway.home.schemas import Home, Listing, NearbyOfferings, Unavailable
from gateway.upstreams import Upstreams
from service_kit.errors import LinliError
from service_kit.timeutil import local_now

log = structlog.get_logger("linli.gateway.home")

UPCOMING = ("requested", "confirmed")
T = TypeVar("T")


class PartFailed(Exception):
    """A service answered, but not with what the part needs (an error status, a body of another shape)."""


def _target(path: str, **query: Any) -> str:
    return f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"


class HomeAssembler:
    def __init__(self, upstreams: Upstreams, *, authorization: str, request_id: str | None, timeout: float) -> None:
        self.upstreams = upstreams
        self.headers = {"Authorization": authorization, "Accept": "application/json"}
        if request_id:
            self.headers["X-Request-ID"] = request_id
        self.timeout = timeout

    async def _get(self, service: str, target: str) -> dict[str, Any]:
        status, body = await self.upstreams.fetch_json(service, target, headers=self.headers, timeout=self.timeout)
        if status != 200 or not isinstance(body, dict):
            raise PartFailed(f"{service} answered {status}")
        return body

    async def _page(self, service: str, target: str) -> tuple[list[dict[str, Any]], int]:
        body = await self._get(service, target)
        items, total = body.get("items"), body.get("total")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items) or not isinstance(total, int):
            raise PartFailed(f"{service} did not answer a page")
        return items, total

    async def nearby(
        self, *, resident_id: uuid.UUID, lat: float | None, lng: float | None, limit: int
    ) -> NearbyOfferings:
        community_code = None
        if lat is None or lng is None:
            # No position given: the circle of the resident's own community, as the booking service knows it.
            resident = await self._get("booking", f"/api/v1/residents/{resident_id}")
            community_code = resident.get("community_code")
            if not community_code:
                raise PartFailed("neither a position nor a community to search around")
        body = await self._get(
            "registry",
            _target("/api/v1/circle/offerings", lat=lat, lng=lng, community_code=community_code, limit=limit),
        )
        return NearbyOfferings.model_validate(body)

    async def upcoming(self, *, limit: int) -> Listing:
        today = local_now().date().isoformat()
        pages = await asyncio.gather(
            *(
                self._page("booking", _target("/api/v1/bookings", status=status, limit=limit, **{"from": today}))
                for status in UPCOMING
            )
        )
        items = sorted((item for found, _ in pages for item in found), key=lambda item: str(item.get("slot_start")))
        return Listing(items=items[:limit], total=sum(total for _, total in pages))

    async def invitations(self, *, limit: int) -> Listing:
        items, total = await self._page(
            "feedback", _target("/api/v1/rating-invitations", status="pending", limit=limit)
        )
        return Listing(items=items, total=total)

    async def _part(self, name: str, fetch: Callable[[], Awaitable[T]]) -> T | Unavailable:
        try:
            async with asyncio.timeout(self.timeout):
                return await fetch()
        except (LinliError, PartFailed, TimeoutError, ValueError) as exc:
            log.warning("home part unavailable", part=name, error=repr(exc))
            return Unavailable()

    async def assemble(self, *, resident_id: uuid.UUID, lat: float | None, lng: float | None, limit: int) -> Home:
        nearby, upcoming, invitations = await asyncio.gather(
            self._part("nearby_offerings", lambda: self.nearby(resident_id=resident_id, lat=lat, lng=lng, limit=limit)),
            self._part("upcoming_bookings", lambda: self.upcoming(limit=limit)),
            self._part("rating_invitations", lambda: self.invitations(limit=limit)),
        )
        return Home(nearby_offerings=nearby, upcoming_bookings=upcoming, rating_invitations=invitations)
