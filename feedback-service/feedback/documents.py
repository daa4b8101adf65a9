"""Feedback's documents (service_kit.documents): complaint photos, attached in the app or through Open311's
``media``, and photos of needs filed through Open311."""

from feedback.models import Base
from service_kit.documents import Purpose
from service_kit.documents.tables import DocumentTables

TABLES = DocumentTables(Base.metadata)
NEED_PHOTO = Purpose("need_photo", "need", photos_only=True)
