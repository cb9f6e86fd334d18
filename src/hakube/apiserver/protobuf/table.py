"""The shape of the protobuf field table, and the text format it is written in.

Kubernetes' protobuf messages are proto2, generated from the Go API structs:
a field's number is the one in its `protobuf:"bytes,N,opt,name=…"` struct tag,
published in each API group's `generated.proto`. The modules in `tables/`
list those numbers in a compact text form, one line per field:

    Container
        1   name       string
        3   command    []string
        8   resources  ResourceRequirements

    Probe
        1   handler              ProbeHandler  inline
        2   initialDelaySeconds  int32

* A block starts with a message name at column 0. `Name list` marks a
  message whose JSON form is a bare list, the repeated field 1 it holds
  (`ExtraValue`, a named `[]string` in authentication and authorization).
* A field line is `number jsonName type [inline]`. The JSON name is the Go
  `json` tag (the proto name too, except where Go's capitalisation leaks
  into proto: `uID`, `aPIGroup`). `inline` marks a Go struct embedded with
  `json:",inline"`: a message on the wire, its fields flattened into the
  parent's JSON object (Probe's handler, Volume's volumeSource).
* The type is a scalar from SCALARS, a message of the same package
  (`PodSpec`) or of another (`meta.ObjectMeta`, see PACKAGES); `[]T` is a
  repeated field, `{}T` a map from string to T. A trailing `?` marks a
  scalar whose zero value Go's JSON encoder writes: a pointer, where zero is
  a value (`replicas: 0` is not an unset `replicas`), or a field without
  `omitempty` (PriorityClass `value`). Go's protobuf encoder writes every
  non-pointer field, zero or not, so for the others a zero is left out, as
  their JSON would have left it out.
"""

from __future__ import annotations

from dataclasses import dataclass

# Short package names used in the tables -> definition-name prefixes (the
# OpenAPI names the schema tables use; the proto package is the same with
# `k8s.io.` in front instead of `io.k8s.`).
PACKAGES = {
    "meta": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "core": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "batch": "io.k8s.api.batch.v1",
    "rbac": "io.k8s.api.rbac.v1",
    "policy": "io.k8s.api.policy.v1",
    "scheduling": "io.k8s.api.scheduling.v1",
    "networking": "io.k8s.api.networking.v1",
    "autoscaling": "io.k8s.api.autoscaling.v1",
    "autoscalingv2": "io.k8s.api.autoscaling.v2",
    "authentication": "io.k8s.api.authentication.v1",
    "authorization": "io.k8s.api.authorization.v1",
    "coordination": "io.k8s.api.coordination.v1",
    "events": "io.k8s.api.events.v1",
    "discovery": "io.k8s.api.discovery.v1",
}

# Scalar types and what their JSON form is.
SCALARS = frozenset(
    {
        "string",
        "bytes",  # base64 in JSON
        "bool",
        "int32",
        "int64",
        "time",  # metav1.Time: Timestamp{seconds, nanos} -> RFC 3339 seconds
        "microtime",  # metav1.MicroTime: Timestamp -> RFC 3339 with 6 fractional digits
        "quantity",  # resource.Quantity: {string} -> its string
        "intstr",  # intstr.IntOrString: {type, intVal, strVal} -> an int or a string
        "fields",  # metav1.FieldsV1: {Raw} -> the JSON it holds
        "raw",  # runtime.RawExtension: {raw} -> the embedded object (JSON or a protobuf envelope)
    }
)
VARINT_TYPES = frozenset({"bool", "int32", "int64"})


def proto_name(definition: str) -> str:
    """`io.k8s.api.core.v1.Pod` -> `k8s.io.api.core.v1.Pod`, the name protobuf knows it by."""
    return "k8s.io." + definition.removeprefix("io.k8s.")


@dataclass(frozen=True, slots=True)
class ProtoField:
    """One field of a message: its number, JSON name and type (see the module docstring)."""

    number: int
    name: str
    type: str  # a scalar from SCALARS or a full message name
    repeated: bool = False
    map: bool = False
    keep_zero: bool = False
    inline: bool = False

    @property
    def is_scalar(self) -> bool:
        return self.type in SCALARS


@dataclass(frozen=True)
class Message:
    """A message type: its fields by number."""

    name: str  # full definition name, e.g. io.k8s.api.core.v1.Container
    fields: dict[int, ProtoField]
    list_wrapper: bool = False

    @property
    def proto_name(self) -> str:
        return proto_name(self.name)


def qualified(package: str, name: str) -> str:
    return f"{PACKAGES[package]}.{name}"


def parse_messages(package: str, text: str) -> dict[str, Message]:
    """Parse the blocks in `text`; unqualified message names belong to `package`."""
    messages: dict[str, Message] = {}
    for header, lines in _blocks(text):
        name, _, flag = header.partition(" ")
        if flag.strip() not in ("", "list"):
            raise ValueError(f"bad message header: {header!r}")
        full = qualified(package, name)
        fields: dict[int, ProtoField] = {}
        names: set[str] = set()
        for line in lines:
            fld = _parse_field(package, line)
            if fld.number in fields or fld.name in names:
                raise ValueError(f"{full}: field {fld.number} {fld.name} listed twice")
            fields[fld.number] = fld
            names.add(fld.name)
        wrapper = flag.strip() == "list"
        if wrapper and (list(fields) != [1] or not fields[1].repeated):
            raise ValueError(f"{full}: a list message holds exactly one repeated field 1")
        if full in messages:
            raise ValueError(f"message {full} defined twice")
        messages[full] = Message(name=full, fields=fields, list_wrapper=wrapper)
    return messages


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    blocks: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if raw[0].isspace():
            if not blocks:
                raise ValueError(f"field line before any message: {raw!r}")
            blocks[-1][1].append(stripped)
        else:
            blocks.append((stripped, []))
    return blocks


def _parse_field(package: str, line: str) -> ProtoField:
    number_text, name, type_text, *modifiers = line.split()
    if modifiers not in ([], ["inline"]):
        raise ValueError(f"unknown modifier in {line!r}")
    number = int(number_text)
    if not 0 < number < 1 << 29:
        raise ValueError(f"bad field number in {line!r}")
    repeated = type_text.startswith("[]")
    is_map = type_text.startswith("{}")
    elem = type_text[2:] if repeated or is_map else type_text
    keep_zero = elem.endswith("?")
    elem = elem.rstrip("?")
    if elem not in SCALARS:
        alias, dot, short = elem.rpartition(".")
        elem = qualified(alias, short) if dot else qualified(package, elem)
        if keep_zero:
            raise ValueError(f"'?' only marks scalars (messages are present when sent): {line!r}")
    if keep_zero and (repeated or is_map):
        raise ValueError(f"'?' on a collection: {line!r}")
    inline = bool(modifiers)
    if inline and (elem in SCALARS or repeated or is_map):
        raise ValueError(f"only a single message can be inline: {line!r}")
    return ProtoField(number=number, name=name, type=elem, repeated=repeated, map=is_map, keep_zero=keep_zero,
                      inline=inline)
