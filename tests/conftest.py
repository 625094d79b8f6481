"""Shared test helpers.

Tests that need a real server ask `service_or_skip`: without TUNELAKE_REQUIRE_SERVICES=1 a
missing server skips the test with the reason; with it (as .ci/run sets) the test fails.
"""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE_SERVICES = os.environ.get("TUNELAKE_REQUIRE_SERVICES") == "1"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def service_or_skip(name: str, available: bool, fix: str) -> None:
    """Skip (or, when services are required, fail) a test whose service is not there."""
    if available:
        return
    message = f"{name} is not reachable: {fix}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)
