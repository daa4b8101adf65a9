"""The registry's read-mostly answers: the category tree and the gazetteer's communities and service centers,
served from memory until their ``*.upserted`` event says they changed (service_kit.readmostly)."""

from service_kit.events.contracts import CategoryUpserted, CommunityUpserted, ServiceCenterUpserted
from service_kit.readmostly import ReadMostly

READ_MOSTLY = ReadMostly(
    "registry",
    {
        "categories": (CategoryUpserted.type,),
        "communities": (CommunityUpserted.type,),
        "service_centers": (ServiceCenterUpserted.type,),
    },
)

# Public and the same for everyone: a browser or proxy may keep it a minute, then asks again with If-None-Match
# (a 304 when nothing changed). Every other answer is no-store (service_kit.edge).
PUBLIC_MINUTE = "public, max-age=60"
