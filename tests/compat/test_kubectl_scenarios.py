"""The kubectl scenario suite: every everyday invocation, with 1.32 and the other installed minors."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubectl_runner import VERSIONS, Runner, get_runner
from scenarios import REPRESENTATIVE, SCENARIOS, params

from hakube.testing import LocalStack

_WHOAMI_BETA = "kubectl 1.27 asks for SelfSubjectReview in authentication.k8s.io/v1alpha1|v1beta1; we serve v1"
# Gaps of older kubectl minors against our server, known and deliberate: each must still fail.
KNOWN_GAPS = {
    ("auth-whoami", "1.27"): _WHOAMI_BETA,
    ("create-token", "1.27"): _WHOAMI_BETA + " (the scenario checks the token with `auth whoami`)",
    # kubectl's own bug, fixed in 1.28 (NewPrintFlags("annotate") instead of "annotated").
    ("annotate", "1.27"): "kubectl 1.27 prints 'configmap/x annotate', not 'annotated'",
}


def _known_gap(request: pytest.FixtureRequest, name: str, version: str) -> None:
    if (name, version) in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name, version]))


def test_suite_size() -> None:
    assert len(SCENARIOS) >= 80, len(SCENARIOS)
    assert set(REPRESENTATIVE) <= set(SCENARIOS)


@pytest.mark.parametrize("name", params(list(SCENARIOS)))
def test_kubectl(name: str, runners: dict[str, Runner], stack: LocalStack, kubectl_home: Path) -> None:
    """The machine's kubectl (1.32 against our server)."""
    SCENARIOS[name](get_runner(runners, stack, kubectl_home, "default"))


@pytest.mark.parametrize("version", [v for v in VERSIONS if v != "1.32"])
@pytest.mark.parametrize("name", params(REPRESENTATIVE))
def test_kubectl_versions(name: str, version: str, runners: dict[str, Runner], stack: LocalStack,
                          kubectl_home: Path, request: pytest.FixtureRequest) -> None:
    """A representative subset with each other installed kubectl minor."""
    _known_gap(request, name, version)
    SCENARIOS[name](get_runner(runners, stack, kubectl_home, version))


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", params([n for n in SCENARIOS if n not in REPRESENTATIVE]))
def test_kubectl_versions_full(name: str, version: str, runners: dict[str, Runner], stack: LocalStack,
                               kubectl_home: Path, request: pytest.FixtureRequest) -> None:
    """Every other scenario with every installed minor (pytest -m slow)."""
    _known_gap(request, name, version)
    SCENARIOS[name](get_runner(runners, stack, kubectl_home, version))
