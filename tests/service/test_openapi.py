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
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case

from tests.service.conftest import TOKEN, running, settings_of
from tunelake.service.api import create_app

# A plays range is checked across its two parameters (from before to, at most 92 days), which
# an OpenAPI document cannot state: there, a 400 problem is the documented answer to a
# schema-valid request.
CROSS_PARAMETER_RULES = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-path": "/artists/{artist_id}/plays",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx",
                            "400",
                            "401",
                            "403",
                            "404",
                            "409",
                            "429",
                            "5xx",
                        ]
                    }
                },
            }
        ]
    }
)
schema = schemathesis.openapi.from_dict(
    create_app(settings_of(Path("unused"))).openapi(), config=CROSS_PARAMETER_RULES
)


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
