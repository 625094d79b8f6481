"""Catalog servers for the tests: real uvicorn servers on loopback, one per profile."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tunelake.sources.catalog.options import CatalogOptions
from tunelake.sources.catalog.server import RunningCatalog, serve_in_thread

from .support import ARTISTS, client_for


@pytest.fixture(scope="module")
def extended() -> Iterator[RunningCatalog]:
    with serve_in_thread(CatalogOptions(n_artists=ARTISTS)) as server:
        yield server


@pytest.fixture(scope="module")
def development() -> Iterator[RunningCatalog]:
    with serve_in_thread(CatalogOptions(n_artists=ARTISTS, profile="development")) as server:
        yield server


@pytest.fixture(scope="module")
def api(extended: RunningCatalog) -> Iterator[httpx.Client]:
    with client_for(extended) as client:
        yield client


@pytest.fixture(scope="module")
def dev_api(development: RunningCatalog) -> Iterator[httpx.Client]:
    with client_for(development) as client:
        yield client
