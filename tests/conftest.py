"""Shared fixtures: a real etcd and real API server processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hakube.testing import Kubectl, LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """One etcd and one API server for the whole session."""
    with LocalStack.running("--etcd-compaction-interval=0") as s:
        yield s


@pytest.fixture(scope="session")
def kubectl(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(stack.kubeconfig(0), tmp_path_factory.mktemp("kubectl-home"))
