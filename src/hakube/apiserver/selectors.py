"""Label and field selectors: `?labelSelector=` / `?fieldSelector=` and metav1.LabelSelector.

kubectl, controllers and the kubelet all lean on these (`get -l`, `rollout
status`, `spec.nodeName=` watches), and users see parse errors verbatim, so
this is a port of the upstream parsers rather than a new grammar:

* labels: apimachinery `pkg/labels/selector.go` (lexer, parser, Requirement,
  sort-by-key, String), operators from `pkg/selection/operator.go`, and
  `pkg/apis/meta/v1/helpers.go` (LabelSelectorAsSelector, FormatLabelSelector).
* fields: apimachinery `pkg/fields/selector.go` (splitTerms, splitTerm,
  UnescapeValue); the "not supported" messages are the field-label
  conversion funcs of k/k `pkg/apis/core/v1/conversion.go` and apimachinery
  `pkg/runtime/conversion.go` DefaultMetaV1FieldSelectorConversion, which
  apiserver `endpoints/handlers/get.go` turns into 400 BadRequest.

Query-string errors raise `StatusError` (400); errors in a stored
metav1.LabelSelector raise ValueError so a strategy can report them as 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from hakube.apiserver.names import label_key_errors, label_value_errors
from hakube.apiserver.status import StatusError, bad_request

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _go_quote(s: str) -> str:
    """Go's %q for the strings that appear in these messages."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _go_string_slice(values: Sequence[str] | None) -> str:
    # %#v of a []string, as field.Invalid prints a bad value list.
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_go_quote(v) for v in values) + "}"


def _invalid(path: str, bad_value: str, detail: str) -> str:
    """field.Invalid(...).Error(); a nil *field.Path prints as `<nil>`."""
    return f"{path}: Invalid value: {bad_value}: {detail}"


def _aggregate(errs: list[str]) -> str:
    # utilerrors aggregate: one error alone, several deduplicated in brackets.
    unique = list(dict.fromkeys(errs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _parse_int64(s: str) -> int | None:
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        return None
    n = int(s)
    return n if _INT64_MIN <= n <= _INT64_MAX else None


@dataclass(frozen=True)
class Requirement:
    """One `key op values` term; construct through `new_requirement` for validation."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        prefix = "!" if op == DOES_NOT_EXIST else ""
        if op in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        sym = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        # Values print sorted, without touching the stored order.
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            vals = f"({vals})"
        return f"{self.key}{sym}{vals}"


def new_requirement(key: str, operator: str, values: Sequence[str] | None) -> Requirement:
    """labels.NewRequirement with a nil path; ValueError carries the aggregated message."""
    errs: list[str] = []
    key_errs = label_key_errors(key)
    if key_errs:
        errs.append(_invalid("key", _go_quote(key), "; ".join(key_errs)))
    vals = list(values) if values is not None else []
    if operator in (IN, NOT_IN):
        if not vals:
            errs.append(_invalid("values", _go_string_slice(values),
                                 "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_invalid("values", _go_string_slice(values),
                                 "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(_invalid("values", _go_string_slice(values),
                                 "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(_invalid("values", _go_string_slice(values),
                                 "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(_invalid(f"values[{i}]", _go_quote(v),
                                     "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(_go_quote(o) for o in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errs.append(f"operator: Unsupported value: {_go_quote(operator)}: supported values: {supported}")
    for i, v in enumerate(vals):
        value_errs = label_value_errors(v)
        if value_errs:
            errs.append(_invalid(f"values[{i}][{key}]", _go_quote(v), "; ".join(value_errs)))
    if errs:
        raise ValueError(_aggregate(errs))
    return Requirement(key, operator, tuple(vals))


class LabelSelector:
    """An AND of requirements, sorted by key; `LabelSelector.nothing()` matches nothing."""

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        # sorted() is stable, like Go's insertion sort for the sizes seen here.
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (labels.Everything)."""
        return not self._nothing and not self.requirements

    def requires_exact_match(self, key: str) -> str | None:
        """The one value `key` must have, if the selector pins it (for index lookups)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return "" if self._nothing else ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})" if not self._nothing else "LabelSelector.nothing()"


# --- the label selector lexer and parser (selector.go) -------------------------------------------

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_TOKENS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN,
           "<": _LT, "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")
_END = "\0"  # Go's read() returns byte 0 at the end of input


def _lex(s: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos = 0

    def read() -> str:
        nonlocal pos
        if pos < len(s):
            pos += 1
            return s[pos - 1]
        return _END

    while True:
        ch = read()
        while ch in _SPACE:
            ch = read()
        if ch == _END:
            items.append((_EOS, ""))
            return items
        pos -= 1
        if ch in _SPECIAL:
            buf, last = "", (_ERROR, "")
            while True:
                ch = read()
                if ch == _END:
                    break
                if ch not in _SPECIAL:
                    pos -= 1
                    break
                buf += ch
                if buf in _TOKENS:
                    last = (_TOKENS[buf], buf)
                elif last[0] != _ERROR:
                    pos -= 1
                    break
            items.append(last if last[0] != _ERROR else (_ERROR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while (ch := read()) != _END and ch not in _SPECIAL and ch not in _SPACE:
                pass
            if ch != _END:
                pos -= 1
            word = s[start:pos]
            if word.endswith(_END):  # a NUL byte ends a word and is consumed, as in Go
                word = word[:-1]
            items.append((_TOKENS.get(word, _ID), word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    @staticmethod
    def _ctx(tok: int, values: bool) -> int:
        # In a Values context `in` and `notin` are ordinary identifiers.
        return _ID if values and tok in (_IN, _NOTIN) else tok

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        return self._ctx(tok, values), lit

    def consume(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        self.pos = min(self.pos + 1, len(self.items) - 1)  # never past end of string
        return self._ctx(tok, values), lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self.requirement())
                except ValueError as e:
                    raise ValueError(f"unable to parse requirement: {e}") from None
                t, lit = self.consume()
                if t == _EOS:
                    return reqs
                if t != _COMMA:
                    raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
                t2, lit2 = self.lookahead()
                if t2 not in (_ID, _NOT):
                    raise ValueError(f"found '{lit2}', expected: identifier after ','")
            elif tok == _EOS:
                return reqs
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, op = self.key_and_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, op, [])
        op = self.operator()
        values = self.value_set() if op in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, op, sorted(values))

    def key_and_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume()
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        key_errs = label_key_errors(lit)
        if key_errs:
            raise ValueError(_invalid("<nil>", _go_quote(lit), "; ".join(key_errs)))
        if self.lookahead()[0] in (_EOS, _COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def operator(self) -> str:
        tok, lit = self.consume(values=False)
        ops = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
               _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _OPEN:
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, _COMMA):
            values = self.identifiers()
            if self.consume()[0] != _CLOSE:
                raise ValueError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSE:  # "()" is the empty value
            self.consume()
            return {""}
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _CLOSE:
                    return values
                if tok2 != _COMMA:
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == _COMMA:  # empty values: "(,a", "a,,b", "a,)"
                if not values:
                    values.add("")
                tok2 = self.lookahead()[0]
                if tok2 == _CLOSE:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    self.consume()
                    values.add("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """labels.Parse; a malformed query parameter is a 400 with upstream's message."""
    try:
        return LabelSelector(_Parser(text).parse())
    except ValueError as e:
        raise bad_request(str(e)) from None


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, `{}` everything; ValueError if invalid."""
    if sel is None:
        return LabelSelector.nothing()
    match_labels: Mapping[str, Any] = sel.get("matchLabels") or {}
    exprs: Sequence[Mapping[str, Any]] = sel.get("matchExpressions") or []
    reqs = [new_requirement(k, EQUALS, ["" if v is None else str(v)]) for k, v in match_labels.items()]
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in exprs:
        op = expr.get("operator") or ""
        if op not in ops:
            raise ValueError(f"{_go_quote(str(op))} is not a valid label selector operator")
        values = expr.get("values")
        reqs.append(new_requirement(expr.get("key") or "", ops[op], list(values) if values else None))
    return LabelSelector(reqs)


def label_selector_to_string(sel: Mapping[str, Any] | None) -> str:
    """`LabelSelectorAsSelector(sel).String()`, as Scale.status.selector carries it.

    Empty for a nil or empty selector; ValueError if the selector is invalid.
    """
    return str(label_selector_from_dict(sel))


def format_label_selector(sel: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector, for table cells: `<none>` if empty, `<error>` if invalid."""
    try:
        text = label_selector_to_string(sel)
    except ValueError:
        return "<error>"
    return text or "<none>"


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted `k=v` pairs, `<none>` if there are none."""
    text = ",".join(sorted(f"{k}={v}" for k, v in (labels or {}).items()))
    return text or "<none>"


# --- field selectors (fields/selector.go) -------------------------------------------------------


class FieldRequirement(NamedTuple):
    field: str
    operator: str  # "=" (also for "==") or "!="
    value: str


class FieldSelector:
    """An AND of `field=value` / `field!=value` terms over an object's selectable fields."""

    def __init__(self, requirements: Iterable[FieldRequirement] = ()) -> None:
        self.requirements: list[FieldRequirement] = list(requirements)

    def matches(self, fields: Mapping[str, str]) -> bool:
        # fields.Set.Get: an absent field reads as "".
        for r in self.requirements:
            equal = fields.get(r.field, "") == r.value
            if equal != (r.operator == EQUALS):
                return False
        return True

    def empty(self) -> bool:
        return not self.requirements

    def fields(self) -> set[str]:
        return {r.field for r in self.requirements}

    def requires_exact_match(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(f"{r.field}{r.operator}{escape_field_value(r.value)}" for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape `\\`, `,` and `=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(s: str) -> str:
    if not any(c in s for c in "\\,="):
        return s
    out: list[str] = []
    in_slash = False
    for c in s:
        if in_slash:
            if c not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go prints the rune with %v, i.e. as its code point.
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    # Commas split terms unless backslash-escaped; the escape stays in the term.
    if not text:
        return []
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The first operator wins and the field cannot be escaped; "!=" and "==" are tried before "=".
    for i in range(len(term)):
        for op in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """fields.ParseSelector; a malformed query parameter is a 400 with upstream's message."""
    reqs: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, op, rhs = split
        try:
            value = _unescape_field_value(rhs)
        except ValueError as e:
            raise bad_request(str(e)) from None
        if not lhs and not value:
            continue  # Transform drops a term whose field and value are both empty
        reqs.append(FieldRequirement(lhs, NOT_EQUALS if op == NOT_EQUALS else EQUALS, value))
    return FieldSelector(reqs)


def unsupported(sel: FieldSelector, allowed: Iterable[str]) -> list[str]:
    """The fields `sel` uses that the resource cannot select on, sorted."""
    ok = set(allowed)
    return sorted(f for f in sel.fields() if f not in ok)


def unsupported_field_error(field: str, *, default_conversion: bool = False) -> StatusError:
    """400 for a field the resource cannot select on.

    Types with their own field-label conversion (pods, nodes, events, secrets,
    namespaces, …) say `field label not supported: <f>`; types without one use
    runtime.DefaultMetaV1FieldSelectorConversion's wording.
    """
    if default_conversion:
        return bad_request(
            f'{_go_quote(field)} is not a known field selector: only "metadata.name", "metadata.namespace"'
        )
    return bad_request(f"field label not supported: {field}")
