"""Injected faults, seen by a raw HTTP client, and replayed exactly from their seed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tunelake.sources.catalog.faults import FaultPlan
from tunelake.sources.catalog.options import CatalogOptions, FaultOptions
from tunelake.sources.catalog.server import RunningCatalog, serve_in_thread

from .support import get_token


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[RunningCatalog]:
    with serve_in_thread(CatalogOptions(n_artists=20, faults=request.param)) as server:
        yield server


def outcome(client: httpx.Client, url: str) -> str:
    """What a client sees: the status, 'malformed' for bad JSON, 'dropped' for a cut body."""
    try:
        response = client.get(url)
    except httpx.RemoteProtocolError:
        return "dropped"
    try:
        response.json()
    except json.JSONDecodeError:
        return "malformed"
    return str(response.status_code)


def outcomes(server: RunningCatalog, n: int) -> list[str]:
    url = f"{server.api_url}/artists/{server.catalog.artist_ids()[0]}"
    headers = {"Authorization": f"Bearer {get_token(server)}"}
    with httpx.Client(headers=headers) as client:
        return [outcome(client, url) for _ in range(n)]


@pytest.mark.parametrize("faulty", [FaultOptions(error_5xx=1.0)], indirect=True)
def test_server_errors(faulty: RunningCatalog) -> None:
    seen = outcomes(faulty, 12)
    assert set(seen) <= {"500", "502", "503"}
    assert len(set(seen)) > 1
    assert faulty.stats.faults("5xx") == 12
    # the token endpoint is never faulted
    assert get_token(faulty)


@pytest.mark.parametrize(
    "faulty",
    [FaultOptions(burst_429=0.3, burst_length=3, burst_retry_after=0.5, seed=3)],
    indirect=True,
)
def test_bursts_of_429_with_retry_after(faulty: RunningCatalog) -> None:
    url = f"{faulty.api_url}/artists/{faulty.catalog.artist_ids()[0]}"
    headers = {"Authorization": f"Bearer {get_token(faulty)}"}
    with httpx.Client(headers=headers) as client:
        responses = [client.get(url) for _ in range(30)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited and all(r.headers["retry-after"] == "0.5" for r in limited)
    runs = "".join("x" if r.status_code == 429 else "." for r in responses).split(".")
    # whole bursts, possibly back to back; the last run may be cut short by the end of the loop
    assert {len(run) for run in runs[:-1] if run} <= {3, 6, 9}
    assert all(r.status_code == 200 for r in responses if r.status_code != 429)


@pytest.mark.parametrize("faulty", [FaultOptions(drop=1.0)], indirect=True)
def test_dropped_connections_break_mid_response(faulty: RunningCatalog) -> None:
    assert outcomes(faulty, 3) == ["dropped"] * 3
    assert faulty.stats.faults("drop") == 3


@pytest.mark.parametrize("faulty", [FaultOptions(malformed=1.0)], indirect=True)
def test_malformed_json_comes_with_status_200(faulty: RunningCatalog) -> None:
    url = f"{faulty.api_url}/artists/{faulty.catalog.artist_ids()[0]}"
    response = httpx.get(url, headers={"Authorization": f"Bearer {get_token(faulty)}"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert response.text.startswith('{"external_urls"')
    assert faulty.stats.faults("malformed") == 1


MIXED = FaultOptions(
    seed=11, error_5xx=0.2, burst_429=0.1, burst_length=2, drop=0.15, malformed=0.15
)


def test_faults_replay_from_their_seed() -> None:
    def run(faults: FaultOptions) -> list[str]:
        with serve_in_thread(CatalogOptions(n_artists=20, faults=faults)) as server:
            return outcomes(server, 40)

    first = run(MIXED)
    assert run(MIXED) == first
    assert {"200", "429", "dropped", "malformed"} <= set(first)
    assert run(MIXED.model_copy(update={"seed": 12})) != first


def test_latency_and_jitter_delay_every_call() -> None:
    plan = FaultPlan(FaultOptions(latency_ms=20, jitter_ms=10))
    delays = [plan.next().delay for _ in range(200)]
    assert all(0.020 <= d < 0.030 for d in delays)
    assert len(set(delays)) > 100
    fixed = FaultPlan(FaultOptions(latency_ms=20))
    assert {fixed.next().delay for _ in range(10)} == {0.020}


def test_reset_restarts_the_fault_sequence() -> None:
    plan = FaultPlan(MIXED)
    first = [plan.next() for _ in range(30)]
    plan.reset()
    assert [plan.next() for _ in range(30)] == first


@pytest.mark.parametrize("field", ["error_5xx", "burst_429", "drop", "malformed"])
def test_fractions_outside_0_1_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        FaultOptions.model_validate({field: 1.5})
