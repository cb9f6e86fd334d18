"""The gnostic `openapi.v2.Document` protobuf encoding of a Swagger 2.0 document.

client-go fetches /openapi/v2 with `Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and unmarshals the
body into gnostic's `openapi_v2.Document` (discovery_client.go
`OpenAPISchema`); kube-apiserver produces it by parsing its JSON document with
gnostic and marshalling the result (kube-openapi pkg/handler `ToProtoBinary`).
This module does the same for the subset of Swagger the server publishes, with
the field numbers of gnostic's `openapiv2/OpenAPIv2.proto`.

What gnostic's parse does that matters here, and this encoder mirrors:

* a JSON object becomes a message; a key present with an empty object is
  still an (empty) message, which `proto.NewOpenAPIData` tells apart from
  an absent one (`properties: {}` is a Kind, no `properties` a Map);
* maps (`definitions`, `properties`, `paths`, response codes, ...) become
  repeated `NamedX {name = 1; value = 2}` entries, in the document's order;
* `x-` keys become `NamedAny` vendor extensions whose `Any.yaml` holds the
  value as YAML (gnostic-models compiler `Marshal`, yaml.v3), which kubectl
  reads back with a YAML decoder;
* oneofs are chosen the way gnostic chooses them: a `$ref` makes a
  `JsonReference`, `in: body` a `BodyParameter`, `in` picks the non-body kind.

Fields are written in field-number order, as Go's `proto.Marshal` writes them,
and proto3 defaults (empty strings, false, empty lists) are left out. A key this
encoder does not know is an error rather than silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

# -- wire format ------------------------------------------------------------------------------------

_VARINT = 0
_LEN = 2


def varint(value: int) -> bytes:
    """The base-128 varint encoding of a non-negative integer."""
    if value < 0:
        raise ValueError("negative varint")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes or embedded message)."""
    return tag(number, _LEN) + varint(len(payload)) + payload


# -- field writers: (field number, JSON value) -> encoded field(s) ----------------------------------

Writer = Callable[[int, Any], bytes]
Encoder = Callable[[Any], bytes]


def _string(number: int, value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return length_delimited(number, value.encode()) if value else b""


def _bool(number: int, value: Any) -> bytes:
    if not isinstance(value, bool):
        raise ValueError(f"expected a boolean, got {value!r}")
    return tag(number, _VARINT) + b"\x01" if value else b""


def _strings(number: int, value: Any) -> bytes:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of strings, got {value!r}")
    # Unlike a singular string, every element of a repeated string is written, empty or not.
    return b"".join(length_delimited(number, _str(item).encode()) for item in value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _message(encode: Encoder) -> Writer:
    """A singular embedded message: written whenever the key is present, even if empty."""
    return lambda number, value: length_delimited(number, encode(value))


def _repeated(encode: Encoder) -> Writer:
    def write(number: int, value: Any) -> bytes:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        return b"".join(length_delimited(number, encode(item)) for item in value)
    return write


def _named(encode_value: Encoder) -> Writer:
    """A JSON object as repeated `NamedX {string name = 1; X value = 2;}` entries, in order."""
    def write(number: int, value: Any) -> bytes:
        return b"".join(length_delimited(number, _string(1, name) + length_delimited(2, encode_value(item)))
                        for name, item in _object(value).items())
    return write


def _map_message(encode_value: Encoder) -> Encoder:
    """A message whose only field is `repeated NamedX additional_properties = 1` (Definitions, Properties...)."""
    named = _named(encode_value)
    return lambda value: named(1, value)


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, got {value!r}")
    return value


def _fields(message: str, spec: Mapping[str, tuple[int, Writer]], extensions: int | None = None) -> Encoder:
    """An encoder of a message from a JSON object: `spec` maps keys to (field number, writer)."""
    def encode(value: Any) -> bytes:
        parts: list[tuple[int, bytes]] = []
        extension_entries: list[bytes] = []
        for key, item in _object(value).items():
            if key in spec:
                number, write = spec[key]
                try:
                    parts.append((number, write(number, item)))
                except ValueError as err:
                    raise ValueError(f"{message}.{key}: {err}") from None
            elif extensions is not None and key.startswith("x-"):
                extension_entries.append(length_delimited(extensions, named_any(key, item)))
            else:
                raise ValueError(f"{message} has no field for {key!r}")
        if extension_entries:
            parts.append((extensions or 0, b"".join(extension_entries)))
        parts.sort(key=lambda part: part[0])  # stable: repeated entries keep their order
        return b"".join(data for _, data in parts)
    return encode


# -- YAML for Any.yaml ------------------------------------------------------------------------------

# A string yaml.v3 writes unquoted: it reads back as the same string in YAML 1.1
# (go-yaml v2, what kubectl decodes vendor extensions with) and 1.2.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./,-]*\Z")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    text = _str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping) and value:
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                lines += _yaml_lines(item, indent + 4)  # yaml.v3 indents by 4
            else:
                lines.append(f"{pad}{_scalar(key)}: {_yaml_lines(item, 0)[0]}")
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            # yaml.v3 writes a sequence entry's content right after "- ".
            sub = _yaml_lines(item, indent + 2)
            lines.append(f"{pad}- {sub[0][indent + 2:]}")
            lines += sub[1:]
        return lines
    if isinstance(value, Mapping):
        return [pad + "{}"]
    if isinstance(value, list):
        return [pad + "[]"]
    return [pad + _scalar(value)]


def yaml_text(value: Any) -> str:
    """`value` as the block YAML gnostic stores in `Any.yaml`."""
    return "".join(line + "\n" for line in _yaml_lines(value, 0))


def named_any(name: str, value: Any) -> bytes:
    """`NamedAny {name = 1; Any value = 2}` with `Any {string yaml = 2}`."""
    return _string(1, name) + length_delimited(2, _string(2, yaml_text(value)))


# -- the messages -----------------------------------------------------------------------------------


def _schema(value: Any) -> bytes:
    return _SCHEMA(value)


def _type_item(value: Any) -> bytes:
    # TypeItem {repeated string value = 1}: `type` may be one name or a list of them.
    return _strings(1, [value] if isinstance(value, str) else value)


def _items_item(value: Any) -> bytes:
    # ItemsItem {repeated Schema schema = 1}: `items` may be one schema or a list of them.
    return _repeated(_schema)(1, value if isinstance(value, list) else [value])


def _additional_properties(value: Any) -> bytes:
    # AdditionalPropertiesItem {oneof {Schema schema = 1; bool boolean = 2}}
    if isinstance(value, bool):
        return tag(2, _VARINT) + varint(int(value))  # a oneof member is written even when false
    return length_delimited(1, _schema(value))


_SCHEMA = _fields("Schema", {
    "$ref": (1, _string),
    "format": (2, _string),
    "title": (3, _string),
    "description": (4, _string),
    "uniqueItems": (16, _bool),
    "required": (19, _strings),
    "additionalProperties": (21, _message(_additional_properties)),
    "type": (22, _message(_type_item)),
    "items": (23, _message(_items_item)),
    "allOf": (24, _repeated(_schema)),
    "properties": (25, _message(_map_message(_schema))),
    "readOnly": (27, _bool),
}, extensions=31)

_JSON_REFERENCE = _fields("JsonReference", {"$ref": (1, _string), "description": (2, _string)})

_BODY_PARAMETER = _fields("BodyParameter", {
    "description": (1, _string),
    "name": (2, _string),
    "in": (3, _string),
    "required": (4, _bool),
    "schema": (5, _message(_schema)),
}, extensions=6)


def _primitive_parameter(message: str, first: int) -> Encoder:
    """Header, path and query parameter sub-schemas share a layout after their first fields.

    Query (and form data) parameters have `allow_empty_value` at 5, which shifts
    `type` and what follows by one (gnostic OpenAPIv2.proto).
    """
    spec: dict[str, tuple[int, Writer]] = {
        "required": (1, _bool),
        "in": (2, _string),
        "description": (3, _string),
        "name": (4, _string),
        "type": (first, _string),
        "format": (first + 1, _string),
        "uniqueItems": (first + 14, _bool),
    }
    if first == 6:
        spec["allowEmptyValue"] = (5, _bool)
    return _fields(message, spec, extensions=first + 17)


# NonBodyParameter {oneof {header = 1; form_data = 2; query = 3; path = 4}}
_NON_BODY: dict[str, tuple[int, Encoder]] = {
    "header": (1, _primitive_parameter("HeaderParameterSubSchema", 5)),
    "formData": (2, _primitive_parameter("FormDataParameterSubSchema", 6)),
    "query": (3, _primitive_parameter("QueryParameterSubSchema", 6)),
    "path": (4, _primitive_parameter("PathParameterSubSchema", 5)),
}


def _parameters_item(value: Any) -> bytes:
    # ParametersItem {oneof {Parameter parameter = 1; JsonReference json_reference = 2}}
    # Parameter {oneof {BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2}}
    obj = _object(value)
    if "$ref" in obj:
        return length_delimited(2, _JSON_REFERENCE(obj))
    where = obj.get("in")
    if where == "body":
        return length_delimited(1, length_delimited(1, _BODY_PARAMETER(obj)))
    if where not in _NON_BODY:
        raise ValueError(f"parameter in {where!r} has no gnostic form")
    number, encode = _NON_BODY[where]
    return length_delimited(1, length_delimited(2, length_delimited(number, encode(obj))))


def _schema_item(value: Any) -> bytes:
    # SchemaItem {oneof {Schema schema = 1; FileSchema file_schema = 2}}
    if _object(value).get("type") == "file":
        raise ValueError("file schemas are not published")
    return length_delimited(1, _schema(value))


_RESPONSE = _fields("Response", {
    "description": (1, _string),
    "schema": (2, _message(_schema_item)),
}, extensions=5)


def _response_value(value: Any) -> bytes:
    # ResponseValue {oneof {Response response = 1; JsonReference json_reference = 2}}
    if "$ref" in _object(value):
        return length_delimited(2, _JSON_REFERENCE(value))
    return length_delimited(1, _RESPONSE(value))


def _responses(value: Any) -> bytes:
    # Responses {repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2}
    obj = _object(value)
    codes = {k: v for k, v in obj.items() if not k.startswith("x-")}
    extensions = b"".join(length_delimited(2, named_any(k, v)) for k, v in obj.items() if k.startswith("x-"))
    return _named(_response_value)(1, codes) + extensions


_OPERATION = _fields("Operation", {
    "tags": (1, _strings),
    "summary": (2, _string),
    "description": (3, _string),
    "operationId": (5, _string),
    "produces": (6, _strings),
    "consumes": (7, _strings),
    "parameters": (8, _repeated(_parameters_item)),
    "responses": (9, _message(_responses)),
    "schemes": (10, _strings),
    "deprecated": (11, _bool),
}, extensions=13)

_PATH_ITEM = _fields("PathItem", {
    "$ref": (1, _string),
    "get": (2, _message(_OPERATION)),
    "put": (3, _message(_OPERATION)),
    "post": (4, _message(_OPERATION)),
    "delete": (5, _message(_OPERATION)),
    "options": (6, _message(_OPERATION)),
    "head": (7, _message(_OPERATION)),
    "patch": (8, _message(_OPERATION)),
    "parameters": (9, _repeated(_parameters_item)),
}, extensions=10)


def _paths(value: Any) -> bytes:
    # Paths {repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2}
    obj = _object(value)
    extensions = b"".join(length_delimited(1, named_any(k, v)) for k, v in obj.items() if k.startswith("x-"))
    return extensions + _named(_PATH_ITEM)(2, {k: v for k, v in obj.items() if not k.startswith("x-")})


_INFO = _fields("Info", {
    "title": (1, _string),
    "version": (2, _string),
    "description": (3, _string),
    "termsOfService": (4, _string),
}, extensions=7)

_API_KEY_SECURITY = _fields("ApiKeySecurity", {
    "type": (1, _string),
    "name": (2, _string),
    "in": (3, _string),
    "description": (4, _string),
}, extensions=5)


def _security_definitions_item(value: Any) -> bytes:
    # SecurityDefinitionsItem {oneof {basic = 1; api_key_security = 2; oauth2 flows = 3..6}}
    if _object(value).get("type") != "apiKey":
        raise ValueError(f"security scheme {value.get('type')!r} is not published")
    return length_delimited(2, _API_KEY_SECURITY(value))


def _security_requirement(value: Any) -> bytes:
    # SecurityRequirement {repeated NamedStringArray additional_properties = 1}, StringArray {repeated string value = 1}
    return _named(lambda scopes: _strings(1, scopes))(1, value)


_DOCUMENT = _fields("Document", {
    "swagger": (1, _string),
    "info": (2, _message(_INFO)),
    "host": (3, _string),
    "basePath": (4, _string),
    "schemes": (5, _strings),
    "consumes": (6, _strings),
    "produces": (7, _strings),
    "paths": (8, _message(_paths)),
    "definitions": (9, _message(_map_message(_schema))),
    "security": (12, _repeated(_security_requirement)),
    "securityDefinitions": (13, _message(_map_message(_security_definitions_item))),
}, extensions=16)


def encode_document(document: Mapping[str, Any]) -> bytes:
    """The `openapi.v2.Document` message of a Swagger 2.0 document (as JSON-shaped data)."""
    return _DOCUMENT(document)
