"""Procurement's document tables (service_kit.documents), on its own metadata."""

from procurement.models import Base
from service_kit.documents import DocumentTables

TABLES = DocumentTables(Base.metadata)
