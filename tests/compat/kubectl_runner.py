"""Runners for the kubectl scenario suite: one per kubectl binary.

The machine's `kubectl` may be a dispatcher that runs the `kubectl.1.NN` binary
matching the server's minor version; the versioned binaries sit beside the file
it resolves to. The default run uses `kubectl` itself (1.32 against our server);
the other versions are run directly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from hakube.testing import LocalStack

VERSIONS = ("1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33")


def versioned_binary(version: str) -> str | None:
    """The `kubectl.<version>` binary beside the resolved `kubectl`, if installed."""
    found = shutil.which("kubectl")
    if found is None:
        return None
    candidate = Path(os.path.realpath(found)).parent / f"kubectl.{version}"
    return str(candidate) if os.access(candidate, os.X_OK) else None


class Runner:
    """One kubectl binary pointed at the test stack, with its own namespace."""

    def __init__(self, binary: str, label: str, kubeconfig: Path, home: Path) -> None:
        self.binary = binary
        self.label = label
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
        self.ns = f"compat-{label.replace('.', '')}-{uuid.uuid4().hex[:5]}"

    def proc(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout)

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        p = self.proc(*args, input=input, env=env)
        assert p.returncode == 0, f"[{self.label}] kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stderr}"
        return p.stdout

    def fail(self, *args: str, input: str | None = None) -> str:
        p = self.proc(*args, input=input)
        assert p.returncode != 0, f"[{self.label}] kubectl {' '.join(args)} succeeded:\n{p.stdout}"
        return p.stderr

    def n(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """`ok` in the runner's namespace."""
        return self.ok("-n", self.ns, *args, input=input, env=env)

    def json(self, *args: str) -> Any:
        return json.loads(self.n(*args, "-o", "json"))

    def apply_obj(self, obj: dict[str, Any], *extra: str) -> str:
        return self.n("apply", *extra, "-f", "-", input=json.dumps(obj))


def get_runner(runners: dict[str, Runner], stack: LocalStack, home: Path, label: str) -> Runner:
    if label not in runners:
        if label == "default":
            binary = shutil.which("kubectl")
        else:
            binary = versioned_binary(label)
        if binary is None:
            pytest.skip(f"kubectl {label} is not installed")
        runner = Runner(binary, label, stack.kubeconfig(0), home)
        ns = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": runner.ns}})
        runner.ok("create", "-f", "-", input=ns)
        runners[label] = runner
    return runners[label]
