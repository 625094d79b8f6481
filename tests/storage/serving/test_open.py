"""open_serving: URLs it refuses and backends it cannot reach, with clear errors. No server
is needed: the unreachable ones point at a closed loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import port_open
from tunelake.errors import ConfigError
from tunelake.storage.serving import ServingUnavailable, open_serving

CLOSED_PORT = 1  # tcpmux: nothing listens there on a development machine
NO_RETRIES = {"max_retries": 0, "timeout": 2.0}


@pytest.fixture(autouse=True)
def _closed_port_is_closed() -> None:
    assert not port_open("127.0.0.1", CLOSED_PORT), "something listens on 127.0.0.1:1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mongodb://127.0.0.1/serving", "scheme 'mongodb' is not supported"),
        ("/just/a/path", r"scheme '\(none\)' is not supported"),
        ("sqlite://", "sqlite:///path/serving.db"),
        ("dynamodb://ab?endpoint_url=http://127.0.0.1:1", "3-255 characters"),
        ("redis://127.0.0.1:6379/0?prefix=", "prefix must not be empty"),
        # redis-py would use database 0 (and whatever Redis answers there)
        ("redis://127.0.0.1:1/notanint", "the database 'notanint' is not a number"),
    ],
)
def test_unusable_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_serving(url, **NO_RETRIES)


def test_credentials_in_a_dynamodb_url_are_refused_without_echoing_them() -> None:
    url = "dynamodb://serving?endpoint_url=http://127.0.0.1:1&aws_secret_access_key=hunter2"
    with pytest.raises(ConfigError, match="from the environment") as caught:
        open_serving(url, **NO_RETRIES)
    assert "hunter2" not in str(caught.value)


def test_unwritable_sqlite_path_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ServingUnavailable, match="writable") as caught:
        open_serving(f"sqlite:///{blocker / 'serving.db'}", **NO_RETRIES)
    assert str(blocker) in str(caught.value)


def test_unreachable_redis_names_the_url_but_not_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{CLOSED_PORT}/0?prefix=x"
    with pytest.raises(ServingUnavailable, match="start Redis") as caught:
        open_serving(url, **NO_RETRIES)
    message = str(caught.value)
    assert f"redis://:***@127.0.0.1:{CLOSED_PORT}/0" in message
    assert "hunter2" not in message


def test_unreachable_dynamodb_names_the_endpoint_and_the_fix() -> None:
    endpoint = f"http://127.0.0.1:{CLOSED_PORT}"
    with pytest.raises(ServingUnavailable, match="start_dynalite") as caught:
        open_serving(f"dynamodb://serving?endpoint_url={endpoint}", **NO_RETRIES)
    assert endpoint in str(caught.value)
