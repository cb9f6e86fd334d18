"""The protobuf wire format, just enough to read Kubernetes messages.

A message is a run of fields, each a varint key (field number << 3 | wire
type) followed by its value: a varint (wire type 0), a length-prefixed run of
bytes (2), or 8 / 4 fixed bytes (1 / 5). Kubernetes' generated messages use
only varints and length-prefixed values; fixed-width values are read so an
unknown field of that kind can be reported rather than misparsed, and the
deprecated groups (3, 4) are refused. Every bound is checked: a truncated or
garbled body raises `ProtobufError`, never an IndexError.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

WIRE_TYPE_NAMES = {VARINT: "varint", FIXED64: "fixed64", LEN: "length-delimited", 3: "start-group",
                   4: "end-group", FIXED32: "fixed32"}

# The largest field number protobuf allows (2^29 - 1).
MAX_FIELD_NUMBER = (1 << 29) - 1
_U64 = (1 << 64) - 1


class ProtobufError(ValueError):
    """A body that is not a valid encoding of the message it should hold.

    `detail` says what is wrong; the decoder fills in where: `message` (the
    protobuf name of the innermost message being read), `number` (the field
    number, when known) and `path` (JSON path segments from the top object).
    """

    def __init__(self, detail: str, *, number: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.number = number
        self.message: str | None = None
        self.path: list[str] = []

    def __str__(self) -> str:
        where = ""
        if self.message:
            where = self.message if self.number is None else f"{self.message} field {self.number}"
        path = ".".join(self.path).replace(".[", "[")
        if path:
            where = f"{where} at {path}" if where else f"at {path}"
        return f"{where}: {self.detail}" if where else self.detail


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at `pos` (at most 10 bytes, masked to 64 bits) and the position after it."""
    result = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise ProtobufError("unexpected end of data inside a varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of a message, in order.

    Varint values are unsigned ints; the others are bytes.
    """
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > MAX_FIELD_NUMBER:
            raise ProtobufError(f"invalid field number {number}")
        value: int | bytes
        if wire_type == VARINT:
            try:
                value, pos = read_varint(data, pos)
            except ProtobufError as err:
                err.number = number
                raise
        elif wire_type == LEN:
            try:
                length, pos = read_varint(data, pos)
            except ProtobufError as err:
                err.number = number
                raise
            if length > end - pos:
                raise ProtobufError(f"length {length} runs past the end of the data ({end - pos} bytes left)",
                                    number=number)
            value = data[pos:pos + length]
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if size > end - pos:
                raise ProtobufError("unexpected end of data inside a fixed-width value", number=number)
            value = data[pos:pos + size]
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} ({WIRE_TYPE_NAMES.get(wire_type, 'invalid')})",
                                number=number)
        yield number, wire_type, value


def packed_varints(data: bytes) -> Iterator[int]:
    """The varints of a packed repeated field."""
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        yield value


def int32(value: int) -> int:
    """A varint read as a Go int32 (the low 32 bits, two's complement)."""
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def int64(value: int) -> int:
    """A varint read as a Go int64 (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def read_fields(data: bytes, message: str, wire_types: dict[int, int]) -> dict[int, int | bytes]:
    """The fields of a small fixed-shape message (field number -> wire type), last value winning.

    For the few messages whose JSON form is not an object (Timestamp,
    IntOrString, Quantity, ...) and the envelope. An unknown field or a wrong
    wire type is refused, naming `message`.
    """
    values: dict[int, int | bytes] = {}
    try:
        for number, wire_type, value in fields(data):
            expected = wire_types.get(number)
            if expected is None:
                raise ProtobufError(f"unknown field (wire type {wire_type}); refused rather than dropped",
                                    number=number)
            if wire_type != expected:
                raise ProtobufError(f"wire type {wire_type} ({WIRE_TYPE_NAMES.get(wire_type)}), expected "
                                    f"{expected} ({WIRE_TYPE_NAMES[expected]})", number=number)
            values[number] = value
    except ProtobufError as err:
        if err.message is None:
            err.message = message
        raise
    return values
