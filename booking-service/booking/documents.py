"""Booking's documents (service_kit.documents): delivery evidence photos, kept with their location for officials."""

from booking.models import Base
from service_kit.documents import DocumentTables

TABLES = DocumentTables(Base.metadata)
