"""The shape of the schema table (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Primitive type names a Field.type may hold besides the name of a type in TYPES.
PRIMITIVES = frozenset(
    {
        "string",
        "integer",
        "number",
        "boolean",
        "int-or-string",  # intstr.IntOrString
        "quantity",  # resource.Quantity: a string or a number
        "time",  # metav1.Time: RFC3339 seconds
        "microtime",  # metav1.MicroTime: RFC3339 with 6 fractional digits
        "bytes",  # base64 string ([]byte)
        "any",  # free-form JSON (runtime.RawExtension, JSON fields): never checked inside
    }
)


@dataclass(frozen=True)
class Field:
    """One field of an object type.

    `type` is a primitive from PRIMITIVES or the name of a type in TYPES.
    `list` means an array of `type`; `map` means a map from string to `type`.
    `patch_strategy` and `merge_key` are the strategic-merge-patch struct tags
    (`patchStrategy:"merge"` / `patchMergeKey:"name"`); `list_type` is
    `x-kubernetes-list-type` ("atomic", "set" or "map"); `list_map_keys` are the
    `+listMapKey` markers of a "map" list (`x-kubernetes-list-map-keys`).
    """

    type: str
    list: bool = False
    map: bool = False
    patch_strategy: str = ""
    merge_key: str = ""
    list_type: str = ""
    description: str = ""
    list_map_keys: tuple[str, ...] = ()

    @property
    def is_primitive(self) -> bool:
        """True when `type` is a primitive rather than the name of an object type."""
        return self.type in PRIMITIVES


@dataclass(frozen=True)
class ObjectType:
    """A named object type: its fields, and whether unknown fields are allowed."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    # True for types whose fields we do not enumerate (accepted as they are,
    # never reported as unknown). Keep these few and say so in the note.
    open: bool = False
    description: str = ""
