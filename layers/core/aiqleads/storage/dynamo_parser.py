"""DynamoDB responses parsed without botocore's walk over every attribute of every item.

botocore parses a response by walking the service model: each AttributeValue of each item is a structure of ten
optional members, and a page of 100 candidates spends about ten milliseconds there, as much as the query itself.
On the wire an AttributeValue is already what the low-level client returns ({"S": "..."}, {"N": "1.5"},
{"BOOL": true}, ...), except binary values, which arrive base64-encoded: this parser keeps the JSON as decoded,
turns B and BS into bytes (in maps and lists too) and leaves every other shape to botocore.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore.parsers import JSONParser, ResponseParserFactory

ATTRIBUTE_VALUE = "AttributeValue"


def attribute_value(node: dict[str, Any]) -> dict[str, Any]:
    """One wire AttributeValue as botocore would parse it."""
    if "S" in node or "N" in node or "BOOL" in node or "NULL" in node or "SS" in node or "NS" in node:
        return node
    if "M" in node:
        return {"M": {name: attribute_value(value) for name, value in node["M"].items()}}
    if "L" in node:
        return {"L": [attribute_value(value) for value in node["L"]]}
    if "B" in node:
        return {"B": base64.b64decode(node["B"])}
    if "BS" in node:
        return {"BS": [base64.b64decode(value) for value in node["BS"]]}
    return node


class DynamoJSONParser(JSONParser):
    def _parse_shape(self, shape: Any, node: Any) -> Any:
        if node is not None:
            if shape.type_name == "map" and shape.value.name == ATTRIBUTE_VALUE:
                return {name: attribute_value(value) for name, value in node.items()}
            if shape.name == ATTRIBUTE_VALUE:
                return attribute_value(node)
        return super()._parse_shape(shape, node)


class DynamoParserFactory(ResponseParserFactory):
    """Register as the botocore session's `response_parser_factory` for DynamoDB clients."""

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":
            return DynamoJSONParser(**self._defaults)
        return super().create_parser(protocol_name)
