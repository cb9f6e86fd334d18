"""Label selectors, node selector terms and tolerations, compiled once per pod.

The scheduler evaluates the same pod against every node, so a pod's selectors
are turned into small matcher objects up front instead of being re-read from
the JSON per node. Semantics are upstream's:

* `metav1.LabelSelector` (apimachinery `pkg/apis/meta/v1/helpers.go`
  LabelSelectorAsSelector): a missing selector matches nothing, an empty one
  everything; matchLabels and matchExpressions are ANDed.
* node selector terms (component-helpers `scheduling/corev1/nodeaffinity`):
  terms are ORed, the requirements of one term ANDed, a term with no
  requirements matches nothing; `Gt`/`Lt` compare integers; `matchFields`
  knows `metadata.name`.
* tolerations (k8s.io/api `core/v1/toleration.go` ToleratesTaint): an empty
  key with `Exists` tolerates every taint; an empty effect every effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Labels = Mapping[str, str]


# -- label selectors --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A compiled metav1.LabelSelector. `nothing` for a missing selector."""

    equals: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, frozenset[str]], ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """Selects everything (labels.Everything(): `Empty()` is true)."""
        return not self.nothing and not self.equals and not self.expressions

    def matches(self, labels: Labels) -> bool:
        if self.nothing:
            return False
        for key, value in self.equals:
            if labels.get(key) != value:
                return False
        for key, op, values in self.expressions:
            if op == "In":
                if labels.get(key) not in values:
                    return False
            elif op == "NotIn":
                if key in labels and labels[key] in values:
                    return False
            elif op == "Exists":
                if key not in labels:
                    return False
            elif op == "DoesNotExist":
                if key in labels:
                    return False
            else:
                return False
        return True

    def with_labels(self, extra: Mapping[str, str]) -> LabelSelector:
        """The selector ANDed with `key=value` pairs (matchLabelKeys)."""
        return LabelSelector(equals=(*tuple(sorted(extra.items())), *self.equals), expressions=self.expressions,
                             nothing=self.nothing)


NOTHING = LabelSelector(nothing=True)


def label_selector(selector: Obj | None) -> LabelSelector:
    if selector is None or not isinstance(selector, dict):
        return NOTHING
    equals = tuple(sorted((str(k), str(v)) for k, v in (selector.get("matchLabels") or {}).items()))
    exprs = []
    for req in selector.get("matchExpressions") or []:
        op = req.get("operator", "")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return NOTHING  # invalid selectors select nothing (the API server rejects them anyway)
        exprs.append((str(req.get("key", "")), op, frozenset(str(v) for v in req.get("values") or [])))
    return LabelSelector(equals=equals, expressions=tuple(exprs))


# -- node selectors ------------------------------------------------------------------------


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _requirement_matches(req: tuple[str, str, frozenset[str], int | None], value: str | None) -> bool:
    _, op, values, bound = req
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        number = _int(value) if value is not None else None
        if number is None or bound is None:
            return False
        return number > bound if op == "Gt" else number < bound
    return False


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    expressions: tuple[tuple[str, str, frozenset[str], int | None], ...]
    fields: tuple[tuple[str, str, frozenset[str], int | None], ...]

    def matches(self, labels: Labels, name: str) -> bool:
        if not self.expressions and not self.fields:
            return False
        for req in self.expressions:
            if not _requirement_matches(req, labels.get(req[0])):
                return False
        for req in self.fields:
            value = name if req[0] == "metadata.name" else None
            if not _requirement_matches(req, value):
                return False
        return True


def _requirements(items: Sequence[Obj] | None) -> tuple[tuple[str, str, frozenset[str], int | None], ...]:
    out = []
    for req in items or []:
        values = [str(v) for v in req.get("values") or []]
        bound = _int(values[0]) if len(values) == 1 else None
        out.append((str(req.get("key", "")), str(req.get("operator", "")), frozenset(values), bound))
    return tuple(out)


def node_selector_term(term: Obj) -> NodeSelectorTerm:
    return NodeSelectorTerm(_requirements(term.get("matchExpressions")), _requirements(term.get("matchFields")))


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """spec.nodeSelector AND requiredDuringScheduling… node affinity (nodeaffinity.GetRequiredNodeAffinity)."""

    node_selector: tuple[tuple[str, str], ...] = ()
    terms: tuple[NodeSelectorTerm, ...] | None = None  # None: no required node affinity

    @property
    def trivial(self) -> bool:
        return not self.node_selector and self.terms is None

    def matches(self, labels: Labels, name: str) -> bool:
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        return any(t.matches(labels, name) for t in self.terms)


def required_node_affinity(spec: Obj) -> RequiredNodeAffinity:
    node_selector = tuple(sorted((str(k), str(v)) for k, v in (spec.get("nodeSelector") or {}).items()))
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = None
    if required is not None:
        terms = tuple(node_selector_term(t) for t in required.get("nodeSelectorTerms") or [])
    return RequiredNodeAffinity(node_selector, terms)


def preferred_node_affinity(spec: Obj) -> tuple[tuple[int, NodeSelectorTerm], ...]:
    preferred = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution")) or []
    out = []
    for item in preferred:
        weight = int(item.get("weight") or 0)
        if weight:
            out.append((weight, node_selector_term(item.get("preference") or {})))
    return tuple(out)


# -- taints and tolerations --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return False


def taints_of(items: Sequence[Obj] | None) -> tuple[Taint, ...]:
    return tuple(Taint(str(t.get("key", "")), str(t.get("value") or ""), str(t.get("effect", ""))) for t in items or [])


def tolerations_of(items: Sequence[Obj] | None) -> tuple[Toleration, ...]:
    return tuple(Toleration(str(t.get("key") or ""), str(t.get("operator") or "Equal"), str(t.get("value") or ""),
                            str(t.get("effect") or "")) for t in items or [])


def tolerated(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


def first_untolerated(taints: Sequence[Taint], tolerations: Sequence[Toleration],
                      effects: frozenset[str]) -> Taint | None:
    """v1helper.FindMatchingUntoleratedTaint restricted to `effects`."""
    for taint in taints:
        if taint.effect in effects and not tolerated(tolerations, taint):
            return taint
    return None
