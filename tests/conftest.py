"""Shared fixtures: a real etcd and real API server processes on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hakube.testing import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """One etcd and one API server for the whole session."""
    s = LocalStack.create()
    try:
        s.start_etcd()
        s.start_apiserver("--etcd-compaction-interval=0")
        yield s
    finally:
        s.cleanup()


def kubectl_binary() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl is not installed")
    return path


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
        self.binary = kubectl_binary()

    def run(self, *args: str, input: str | None = None, check: bool = True,
            env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def kubectl(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(stack.kubeconfig(0), tmp_path_factory.mktemp("kubectl-home"))
