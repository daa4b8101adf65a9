"""Distances between WGS-84 positions, close enough for walking and for check-in evidence: haversine on a sphere
of the mean radius (within a district its error is far below GPS noise), and the bounding box that an index on
(lat, lng) can prefilter with before the exact distance is computed."""

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """The great-circle distance in whole metres."""
    return round(haversine_m(lat1, lng1, lat2, lng2))


@dataclass(frozen=True)
class BoundingBox:
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float


def bounding_box(lat: float, lng: float, radius_m: float) -> BoundingBox:
    """A box that contains every point within ``radius_m`` of (lat, lng); a little larger, never smaller."""
    dlat = radius_m / METRES_PER_DEGREE_LAT
    # Longitude degrees shrink towards the poles; take the widest latitude the box reaches.
    widest = min(89.0, abs(lat) + dlat)
    dlng = min(180.0, radius_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(widest))))
    return BoundingBox(lat - dlat, lat + dlat, lng - dlng, lng + dlng)
