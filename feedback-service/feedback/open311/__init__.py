"""Open311 GeoReport v2 facade: existing 311 clients file complaints and needs, and follow their status."""
