"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.registry import Registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sample_registry() -> Registry:
    """The small test components of ``tests/fixtures/manifests`` (service ``test:svc``)."""
    return Registry.load(FIXTURES / "manifests")
