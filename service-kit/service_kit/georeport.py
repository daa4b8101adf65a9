"""Open311 GeoReport v2's two forms, shared by feedback's facade and the gateway's refusals on ``/open311``.

XML is the standard's default: the same documents as the JSON, under the element names the specification's
examples use (``<services><service>…``, ``<service_definition><attributes><attribute>…
<values><value>``, ``<service_requests><request>…``, ``<errors><error>…``). Built with the standard library's
ElementTree, which escapes every text: a description cannot inject markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from starlette.responses import JSONResponse, Response

# A list document's root and the element of each of its items.
ITEM_OF_ROOT = {"services": "service", "service_requests": "request", "errors": "error"}
# Lists inside an element: the element of each item.
ITEM_OF_LIST = {"attributes": "attribute", "values": "value"}
# Where the Open311 facade's paths begin: every refusal under it is an error list (service_kit.errors).
PATH_PREFIX = "/open311/"
DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
MEDIA_TYPE = "text/xml; charset=utf-8"


def render(document: Any, root: str) -> bytes:
    element = ET.Element(root)
    if isinstance(document, list):
        for item in document:
            _fill(ET.SubElement(element, ITEM_OF_ROOT[root]), item)
    else:
        _fill(element, document)
    return DECLARATION + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM_OF_LIST.get(element.tag, "item")), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def error_response(path: str, status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    """The standard's error list (``[{"code", "description"}]``), in the form ``path``'s suffix asks for; the status
    alike, but a 422 (Linli's) is the standard's 400."""
    status = 400 if status == 422 else status
    errors = [{"code": status, "description": description}]
    if path.endswith(".xml"):
        return Response(render(errors, "errors"), status_code=status, media_type=MEDIA_TYPE, headers=headers)
    return JSONResponse(errors, status_code=status, headers=headers)
