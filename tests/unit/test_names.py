"""Name, label and annotation rules: upstream messages, byte lengths, generateName."""

from __future__ import annotations

import random

import pytest

from hakube.apiserver import names

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize("name", ["a", "web-1", "example.com", "a" * 253, "0.1.2"])
def test_subdomain_accepts(name: str) -> None:
    assert names.dns1123_subdomain_errors(name) == []


def test_subdomain_messages() -> None:
    assert names.dns1123_subdomain_errors("Web") == [SUBDOMAIN_MSG]
    assert names.dns1123_subdomain_errors("web-") == [SUBDOMAIN_MSG]
    assert names.dns1123_subdomain_errors("") == [SUBDOMAIN_MSG]
    assert names.dns1123_subdomain_errors("a" * 254) == ["must be no more than 253 characters"]
    # Whole-string match: a trailing newline is not accepted.
    assert names.dns1123_subdomain_errors("web\n") == [SUBDOMAIN_MSG]


def test_label_messages() -> None:
    assert names.dns1123_label_errors("kube-system") == []
    assert names.dns1123_label_errors("a.b") == ["must not contain dots"]
    assert names.dns1123_label_errors("A") == [LABEL_MSG]
    assert names.dns1123_label_errors("a" * 64) == ["must be no more than 63 characters"]


def test_dns1035_label() -> None:
    assert names.dns1035_label_errors("my-svc") == []
    assert names.dns1035_label_errors("1svc") == [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
        "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
        "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


def test_generate_name_prefix_may_end_in_dash() -> None:
    assert names.dns1123_subdomain_errors("web-", prefix=True) == []
    assert names.dns1123_label_errors("ns-", prefix=True) == []
    assert names.dns1123_subdomain_errors("-", prefix=True) == [SUBDOMAIN_MSG]


def test_path_segment() -> None:
    assert names.path_segment_errors("ok:name") == []
    assert names.path_segment_errors(".") == ["may not be '.'"]
    assert names.path_segment_errors("..") == ["may not be '..'"]
    assert names.path_segment_errors("a/b%c") == ["may not contain '/'", "may not contain '%'"]
    assert names.path_segment_errors("..", prefix=True) == []


def test_label_keys() -> None:
    assert names.label_key_errors("app") == []
    assert names.label_key_errors("app.kubernetes.io/name") == []
    assert names.label_key_errors("app:monolith") == [NAME_PART_MSG]
    assert names.label_key_errors("/name") == ["prefix part must be non-empty"]
    assert names.label_key_errors("Example.com/x") == ["prefix part " + SUBDOMAIN_MSG]
    assert names.label_key_errors("a/") == ["name part must be non-empty", NAME_PART_MSG]
    assert names.label_key_errors("x" * 64) == ["name part must be no more than 63 characters"]
    (msg,) = names.label_key_errors("a/b/c")
    assert msg.startswith("a qualified name must consist of alphanumeric characters")
    assert msg.endswith("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")


def test_label_values() -> None:
    assert names.label_value_errors("") == []
    assert names.label_value_errors("v1.2_beta-3") == []
    (msg,) = names.label_value_errors("-bad")
    assert msg.startswith("a valid label must be an empty string or consist of alphanumeric characters")
    assert "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used" in msg
    # Lengths are UTF-8 bytes, as Go counts them.
    assert names.label_value_errors("é" * 32)[0] == "must be no more than 63 characters"


def test_annotations() -> None:
    assert names.annotation_key_errors("Example.COM/Thing") == []
    assert names.annotations_size_errors({"a": "x" * 1000}) == []
    big = {"k": "x" * names.TOTAL_ANNOTATION_SIZE_LIMIT}
    assert names.annotations_size_errors(big) == ["may not be more than 262144 bytes"]


def test_generate_name() -> None:
    rng = random.Random(7)
    name = names.generate_name("web-", rng=rng)
    assert name.startswith("web-") and len(name) == 9
    assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    long = names.generate_name("x" * 100)
    assert len(long) == 63 and long.startswith("x" * 58)
    assert names.dns1123_subdomain_errors(long) == []
