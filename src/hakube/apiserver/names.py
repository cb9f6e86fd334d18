"""Name, label and annotation rules, with kube-apiserver's exact messages.

Clients (kubectl, client libraries, tests) match on these strings, and users
read them in `422 Invalid` bodies, so the wording is copied verbatim from
apimachinery `pkg/util/validation/validation.go` (IsDNS1123Subdomain,
IsDNS1123Label, IsDNS1035Label, IsQualifiedName, IsValidLabelValue),
`pkg/api/validation/path/name.go` (path-segment names),
`pkg/api/validation/generic.go` (maskTrailingDash for generateName prefixes) and
`pkg/api/validation/objectmeta.go` (annotation size). generateName follows
apiserver `pkg/storage/names/generate.go`.

Every check returns a list of messages without the field path; callers turn
them into `field.Invalid` causes. Lengths are counted in UTF-8 bytes, as Go's
`len()` does.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)  # 256 KiB, keys plus values

# generate.go: names are capped at 63 characters, 5 of them random.
GENERATED_NAME_RANDOM_LENGTH = 5
MAX_GENERATED_NAME_BASE_LENGTH = 63 - GENERATED_NAME_RANDOM_LENGTH
# apimachinery pkg/util/rand: no vowels, so no bad words.
GENERATED_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QNAME_CHAR_FMT = "[A-Za-z0-9]"
_QNAME_EXT_CHAR_FMT = "[-A-Za-z0-9_.]"
_QUALIFIED_NAME_FMT = "(" + _QNAME_CHAR_FMT + _QNAME_EXT_CHAR_FMT + "*)?" + _QNAME_CHAR_FMT
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)

# Go's MatchString("^...$") is a whole-string match; Python's `$` would also
# accept a trailing newline, so these are only ever used with fullmatch.
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, including its double space after each example's comma."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _blen(value: str) -> int:
    return len(value.encode())


def _mask_trailing_dash(name: str) -> str:
    # generic.go maskTrailingDash: a generateName prefix may end in '-' because
    # random characters follow. Upstream drops two characters, not one; kept.
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def dns1123_label_errors(value: str, *, prefix: bool = False) -> list[str]:
    """IsDNS1123Label (namespace names); `prefix` for a generateName."""
    if prefix:
        value = _mask_trailing_dash(value)
    errs: list[str] = []
    if _blen(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # A valid subdomain but not a label: length was checked, so it is dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1123_subdomain_errors(value: str, *, prefix: bool = False) -> list[str]:
    """IsDNS1123Subdomain: the rule for most object names."""
    if prefix:
        value = _mask_trailing_dash(value)
    errs: list[str] = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def dns1035_label_errors(value: str, *, prefix: bool = False) -> list[str]:
    """IsDNS1035Label: Service names must start with a letter."""
    if prefix:
        value = _mask_trailing_dash(value)
    errs: list[str] = []
    if _blen(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def path_segment_errors(value: str, *, prefix: bool = False) -> list[str]:
    """ValidatePathSegmentName: any name that must survive as one URL/etcd key segment."""
    if not prefix:
        for illegal in (".", ".."):
            if value == illegal:
                return [f"may not be '{illegal}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


def _qualified_name_regex_error() -> str:
    return regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")


def qualified_name_errors(value: str) -> list[str]:
    """IsQualifiedName: `[prefix/]name`, the shape of label and annotation keys."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix_part, name = parts
        if not prefix_part:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain_errors(prefix_part))
    else:
        return [
            "a qualified name " + _qualified_name_regex_error()
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errs.append("name part " + _qualified_name_regex_error())
    return errs


def label_key_errors(key: str) -> list[str]:
    """metav1 validation ValidateLabelName."""
    return qualified_name_errors(key)


def label_value_errors(value: str) -> list[str]:
    """IsValidLabelValue: empty, or up to 63 alphanumerics with inner '-', '_', '.'."""
    errs: list[str] = []
    if _blen(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def annotation_key_errors(key: str) -> list[str]:
    """ValidateAnnotations: a qualified name, except that case does not matter."""
    return qualified_name_errors(key.lower())


def annotations_size_errors(annotations: Mapping[str, str]) -> list[str]:
    """The 256 KiB total; upstream reports it as field.TooLong on metadata.annotations."""
    total = sum(_blen(k) + _blen(v) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        return [f"may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"]
    return []


def generate_name(base: str, *, rng: random.Random | None = None) -> str:
    """metadata.generateName → name: the base cut to 58 bytes plus 5 random characters."""
    cut = base.encode()[:MAX_GENERATED_NAME_BASE_LENGTH].decode("utf-8", "ignore")
    pick = rng.choice if rng is not None else random.choice
    return cut + "".join(pick(GENERATED_NAME_ALPHABET) for _ in range(GENERATED_NAME_RANDOM_LENGTH))
