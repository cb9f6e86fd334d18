"""Label and field selectors: upstream grammar, matching, String() and error messages."""

from __future__ import annotations

import pytest

from hakube.apiserver.selectors import (
    FieldRequirement,
    LabelSelector,
    format_label_selector,
    format_labels,
    label_selector_from_dict,
    label_selector_to_string,
    parse_field_selector,
    parse_label_selector,
    unsupported,
    unsupported_field_error,
)
from hakube.apiserver.status import StatusError

WEB = {"app": "web", "tier": "frontend", "env": "prod"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("  ", True),
        ("app=web", True),
        ("app==web", True),
        ("app = web", True),
        ("app!=web", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web,db)", True),
        ("app in(db)", False),
        ("app notin (db)", True),
        ("missing notin (db)", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=web,tier=frontend", True),
        ("app=web, tier=backend", False),
        ("app=web,\tenv in (prod, staging)", True),
        ("in in (in)", False),
        ("env>1", False),
    ],
)
def test_label_matching(text: str, matches: bool) -> None:
    assert parse_label_selector(text).matches(WEB) is matches


def test_in_and_notin_are_ordinary_words_where_a_value_is_expected() -> None:
    sel = parse_label_selector("in in (notin, in)")
    assert sel.matches({"in": "notin"}) and not sel.matches({"in": "x"})


def test_gt_lt() -> None:
    assert parse_label_selector("replicas>2").matches({"replicas": "3"})
    assert not parse_label_selector("replicas<2").matches({"replicas": "3"})
    assert not parse_label_selector("replicas>2").matches({"replicas": "three"})


def test_empty_values() -> None:
    assert parse_label_selector("a=").matches({"a": ""})
    assert parse_label_selector("a in ()").matches({"a": ""})
    assert parse_label_selector("a in (,b)").matches({"a": ""})
    assert parse_label_selector("a in (b,)").matches({"a": ""})


def test_string_is_sorted_by_key_and_value() -> None:
    sel = parse_label_selector("tier in (b, a), !old,app==web, x notin (z,y), present")
    assert str(sel) == "app==web,!old,present,tier in (a,b),x notin (y,z)"
    assert not sel.empty()
    assert parse_label_selector("").empty()


def test_requires_exact_match() -> None:
    sel = parse_label_selector("app=web,tier in (a,b)")
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("tier") is None
    assert sel.requires_exact_match("other") is None


def _message(text: str) -> str:
    with pytest.raises(StatusError) as err:
        parse_label_selector(text)
    assert err.value.code == 400 and err.value.reason == "BadRequest"
    return err.value.message


def test_label_parse_errors() -> None:
    assert _message("a b") == "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    assert _message("a=b c") == "found 'c', expected: ',' or 'end of string'"
    assert _message("a=b,") == "found '', expected: identifier after ','"
    assert _message(",a") == "found ',', expected: !, identifier, or 'end of string'"
    assert _message("!") == "unable to parse requirement: found '', expected: identifier"
    assert _message("a in b") == "unable to parse requirement: found 'b' expected: '('"
    assert _message("a in (b c)") == "unable to parse requirement: found 'c', expected: ',' or ')'"
    assert _message("a=(b)") == "unable to parse requirement: found '(', expected: identifier"
    assert _message("!a=b") == "found '=', expected: ',' or 'end of string'"


def test_label_key_error_is_upstream_wording() -> None:
    assert _message("app:monolith").startswith(
        'unable to parse requirement: <nil>: Invalid value: "app:monolith": name part must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    )
    assert _message("app.kubernetes_io/name=x").startswith(
        'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part '
        "a lowercase RFC 1123 subdomain must consist of"
    )


def test_label_value_errors() -> None:
    msg = _message("app=-web")
    assert msg.startswith('unable to parse requirement: values[0][app]: Invalid value: "-web": a valid label')
    assert _message("replicas>x") == (
        'unable to parse requirement: values[0]: Invalid value: "x": '
        "for 'Gt', 'Lt' operators, the value must be an integer"
    )


def test_from_dict() -> None:
    sel = label_selector_from_dict({
        "matchLabels": {"app": "d1"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["x"]},
            {"key": "env", "operator": "Exists", "values": []},
        ],
    })
    assert str(sel) == "app=d1,!canary,env,tier in (a,b),zone notin (x)"
    assert sel.matches({"app": "d1", "tier": "a", "env": "dev"})
    assert not sel.matches({"app": "d1", "tier": "a", "env": "dev", "canary": "1"})
    assert not sel.matches({"app": "d1", "tier": "c", "env": "dev"})


def test_nil_selects_nothing_and_empty_everything() -> None:
    nothing = label_selector_from_dict(None)
    assert not nothing.matches({}) and not nothing.empty() and str(nothing) == ""
    everything = label_selector_from_dict({})
    assert everything.matches({"a": "b"}) and everything.empty()
    assert LabelSelector.nothing().matches(None) is False


def test_from_dict_errors() -> None:
    with pytest.raises(ValueError, match=r'^"Equal" is not a valid label selector operator$'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Equal"}]})
    with pytest.raises(ValueError) as err:
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert str(err.value) == (
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
    )
    with pytest.raises(ValueError) as err:
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
    assert str(err.value) == (
        'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist'
    )
    with pytest.raises(ValueError, match=r'^key: Invalid value: "a b": name part'):
        label_selector_from_dict({"matchLabels": {"a b": "x"}})


def test_to_string_and_format() -> None:
    sel = {"matchLabels": {"app": "d1"}, "matchExpressions": [{"key": "tier", "operator": "In",
                                                                "values": ["a", "b"]}]}
    assert label_selector_to_string(sel) == "app=d1,tier in (a,b)"
    assert label_selector_to_string({}) == ""
    assert label_selector_to_string(None) == ""
    assert format_label_selector(sel) == "app=d1,tier in (a,b)"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Nope"}]}) == "<error>"
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"


# --- field selectors ------------------------------------------------------------------------------

POD_FIELDS = {"metadata.name": "web-1", "metadata.namespace": "default", "spec.nodeName": "n1",
              "status.phase": "Running"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name!=web-1", False),
        ("spec.nodeName=", False),
        ("spec.nodeName!=", True),
        ("spec.nodeName=n1,status.phase!=Succeeded", True),
        ("spec.nodeName=n1,status.phase=Pending", False),
        ("status.reason=", True),  # an absent field reads as ""
    ],
)
def test_field_matching(text: str, matches: bool) -> None:
    assert parse_field_selector(text).matches(POD_FIELDS) is matches


def test_field_requirements_and_escapes() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d,spec.nodeName!=n2")
    assert sel.requirements == [
        FieldRequirement("metadata.name", "=", "a,b=c\\d"),
        FieldRequirement("spec.nodeName", "!=", "n2"),
    ]
    assert sel.fields() == {"metadata.name", "spec.nodeName"}
    assert sel.requires_exact_match("metadata.name") == "a,b=c\\d"
    assert str(sel) == r"metadata.name=a\,b\=c\\d,spec.nodeName!=n2"
    # "==" is stored as "=", like upstream's hasTerm.
    assert parse_field_selector("a==b").requirements == [FieldRequirement("a", "=", "b")]
    # A term with empty field and value is dropped; empty terms are skipped.
    assert parse_field_selector("=,,a=b").requirements == [FieldRequirement("a", "=", "b")]


def _field_message(text: str) -> str:
    with pytest.raises(StatusError) as err:
        parse_field_selector(text)
    assert err.value.code == 400
    return err.value.message


def test_field_parse_errors() -> None:
    assert _field_message("a=b,nonsense") == "invalid selector: 'a=b,nonsense'; can't understand 'nonsense'"
    assert _field_message(r"a=b\x") == r"invalid field selector: invalid escape sequence: \x"
    assert _field_message("a=b\\") == "invalid field selector: invalid escape sequence: \\"
    assert _field_message("a=b=c") == "invalid field selector: unescaped character in value: 61"


def test_unsupported() -> None:
    sel = parse_field_selector("spec.foo=x,metadata.name=a,status.bar!=y")
    assert unsupported(sel, {"metadata.name", "metadata.namespace"}) == ["spec.foo", "status.bar"]
    err = unsupported_field_error("spec.foo")
    assert (err.code, err.message) == (400, "field label not supported: spec.foo")
    err = unsupported_field_error("spec.foo", default_conversion=True)
    assert err.message == (
        '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"')
