"""Checking the QuickBooks fake's JSON against Intuit's official XML Schemas (copied in tests/specs/quickbooks/):
QuickBooks' JSON uses the schemas' element names, nesting and enums, so a body turned into the equivalent
`IntuitResponse` document, in the schemas' child order, must validate. A key the schemas do not know fails too."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import xmlschema

SPECS = Path(__file__).parent / "specs" / "quickbooks"
NAMESPACE = "http://schema.intuit.com/finance/v3"


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SPECS / "IntuitRestServiceDef.xsd")


class UnknownField(AssertionError):
    pass


def response_errors(body: dict[str, Any]) -> list[str]:
    """What Intuit's schemas find wrong with a JSON success body (an `IntuitResponse`); empty when it is valid."""
    document = _element(schema().elements["IntuitResponse"], "IntuitResponse", body)
    return [str(error.reason or error) for error in schema().iter_errors(document)]


def entity_errors(name: str, record: dict[str, Any]) -> list[str]:
    """What the schemas find wrong with one entity (`Customer`, `Account`, ...)."""
    element = schema().elements[name]
    return [str(error.reason or error) for error in element.iter_errors(_element(element, name, record))]


def _element(declaration: Any, name: str, value: Any) -> ElementTree.Element:
    element = ElementTree.Element(f"{{{NAMESPACE}}}{name}")
    xsd_type = declaration.type
    if not isinstance(value, dict):
        element.text = _text(value)
        return element
    attributes = {a.rsplit("}", 1)[-1] for a in getattr(xsd_type, "attributes", {}) if a}
    if xsd_type.has_simple_content():  # a reference: {"value": "1", "name": "Checking"}
        element.text = _text(value.get("value"))
        for key, item in value.items():
            if key != "value":
                if key not in attributes:
                    raise UnknownField(f"{name}.{key} is not in Intuit's schema")
                element.set(key, _text(item))
        return element
    children = list(xsd_type.content.iter_elements()) if xsd_type.is_complex() and xsd_type.content else []
    used = set()
    for child in children:
        key = child.local_name
        if key in value and value[key] is not None:
            used.add(key)
            for item in value[key] if isinstance(value[key], list) else [value[key]]:
                element.append(_element(child, key, item))
    for key, item in value.items():
        if key in used or item is None:
            continue
        if key in attributes:
            element.set(key, _text(item))
            continue
        member = schema().elements.get(f"{{{NAMESPACE}}}{key}") or schema().elements.get(key)
        if member is None or not any(c.local_name == "IntuitObject" for c in children):
            raise UnknownField(f"{name}.{key} is not in Intuit's schema")
        for record in item if isinstance(item, list) else [item]:  # an entity in the IntuitObject group
            element.append(_element(member, key, record))
    return element


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
