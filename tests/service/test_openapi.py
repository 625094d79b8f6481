"""schemathesis against the app's own OpenAPI document, over real HTTP: generated requests
(valid and invalid) never get a 5xx, and every answer matches its declared status, media
type and schema.

The document is the app's own (`app.openapi()`: it depends on no data, so it is built at
import time); the requests go to a server over the published stores. schemathesis's
`from_fixture` does not work on pytest 9, hence a schema built before collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.case import Case

from tests.service.conftest import TOKEN, running, settings_of
from tunelake.service.api import create_app

schema = schemathesis.openapi.from_dict(create_app(settings_of(Path("unused"))).openapi())


@pytest.fixture(scope="module")
def service_url(published: Path) -> Iterator[str]:
    with running(settings_of(published, api_token=TOKEN)) as client:
        yield str(client.base_url).rstrip("/")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_its_openapi_promises(case: Case, service_url: str) -> None:
    case.call_and_validate(base_url=service_url, headers={"Authorization": f"Bearer {TOKEN}"})
