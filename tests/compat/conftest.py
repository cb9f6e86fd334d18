"""Fixtures for the compat suites (the stack itself comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubectl_runner import Runner

from hakube.testing import LocalStack


@pytest.fixture(scope="session")
def runners(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Runner]:
    """Runners by label, created on first use; each creates its namespace with `create -f`."""
    return {}


@pytest.fixture(scope="session")
def kubectl_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compat-home")
