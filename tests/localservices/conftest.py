"""The launchers' tests skip (or fail, when services are required) without the servers."""

from __future__ import annotations

import pytest

from tests.conftest import start_or_skip
from tunelake.localservices.dynalite import ensure_dynalite_installed
from tunelake.localservices.seaweedfs import weed_binary


@pytest.fixture(scope="session")
def weed_installed() -> None:
    start_or_skip("SeaweedFS", weed_binary)


@pytest.fixture(scope="session")
def dynalite_installed() -> None:
    start_or_skip("dynalite (installed from the npm registry)", ensure_dynalite_installed)
