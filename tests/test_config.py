"""Settings: precedence of flags, environment, secrets file, profile and defaults; secrets stay hidden."""

from __future__ import annotations

import pytest

from tunelake.config import load_settings
from tunelake.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (
        "TUNELAKE_PROFILE",
        "TUNELAKE_HOME",
        "TUNELAKE_SECRETS_FILE",
        "TUNELAKE_MARKET",
        "TUNELAKE_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)


def _toml(tmp_path, text: str) -> None:
    (tmp_path / "tunelake.toml").write_text(text, encoding="utf-8")


def test_defaults_are_embedded(tmp_path):
    settings = load_settings()
    assert settings.profile == "local"
    assert settings.resolved_warehouse_url.startswith("sqlite:///")
    assert settings.resolved_lake_url.endswith("lake")


def test_flag_beats_env_beats_secrets_file_beats_profile(tmp_path, monkeypatch):
    _toml(tmp_path, '[profiles.p]\nmarket = "SE"\nconcurrency = 3\nrequest_timeout = 4.0\n')
    secrets = tmp_path / "s.env"
    secrets.write_text("TUNELAKE_CONCURRENCY=5\nTUNELAKE_REQUEST_TIMEOUT=6\n", encoding="utf-8")
    monkeypatch.setenv("TUNELAKE_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("TUNELAKE_REQUEST_TIMEOUT", "7")

    settings = load_settings(profile="p", market="KR")

    assert settings.market == "KR"  # flag
    assert settings.request_timeout == 7.0  # environment over the secrets file
    assert settings.concurrency == 5  # secrets file over the profile
    monkeypatch.delenv("TUNELAKE_SECRETS_FILE")
    assert load_settings(profile="p").concurrency == 3  # profile over the default


def test_profile_from_the_environment_and_unknown_profiles(tmp_path, monkeypatch):
    _toml(tmp_path, '[profiles.services]\nlake_url = "s3://b/p"\n')
    monkeypatch.setenv("TUNELAKE_PROFILE", "services")
    assert load_settings().lake_url == "s3://b/p"
    with pytest.raises(ConfigError, match="profile 'nope' is not defined; profiles: services"):
        load_settings(profile="nope")


def test_secrets_never_show(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELAKE_SPOTIFY_CLIENT_SECRET", "hunter2-very-secret")
    settings = load_settings()
    assert settings.spotify_client_secret.get_secret_value() == "hunter2-very-secret"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)


def test_home_secrets_file_is_read_by_default(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "secrets.env").write_text("TUNELAKE_S3_SECRET_ACCESS_KEY=abc\n", encoding="utf-8")
    assert load_settings(home=home).s3_secret_access_key.get_secret_value() == "abc"


def test_bad_values_are_clear(monkeypatch):
    monkeypatch.setenv("TUNELAKE_SECRETS_FILE", "/nonexistent/file.env")
    with pytest.raises(ConfigError, match=r"TUNELAKE_SECRETS_FILE /nonexistent/file.env does not"):
        load_settings()
    monkeypatch.delenv("TUNELAKE_SECRETS_FILE")
    with pytest.raises(ConfigError, match="catalog_profile"):
        load_settings(catalog_profile="beta")


def test_an_unknown_vector_feature_fails_before_any_work(monkeypatch):
    monkeypatch.setenv("TUNELAKE_VECTOR_FEATURES", '["energy", "bogus"]')
    with pytest.raises(
        ConfigError, match=r"vector_features \(TUNELAKE_VECTOR_FEATURES\): .*unknown: \['bogus'\]"
    ):
        load_settings()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[profiles]\nlocal = 5\n", r"tunelake.toml: profiles.local must be a table"),
        ("[profiles\n", r"tunelake.toml is not valid TOML: Expected ']'"),
        (
            '[profiles.local]\nconcurrency = "x"\n',
            r"concurrency \(\[profiles.local\] of .*tunelake.toml\): Input should be a valid "
            r"integer.*\(got 'x'\)",
        ),
        (
            "[profiles.local]\nvector_features = 5\n",
            r"vector_features \(\[profiles.local\] of .*tunelake.toml\): .*valid tuple",
        ),
    ],
)
def test_a_bad_profile_names_the_file_and_the_key(tmp_path, text, says):
    _toml(tmp_path, text)
    with pytest.raises(ConfigError, match=says):
        load_settings()


def test_a_bad_secret_is_named_but_not_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELAKE_CONCURRENCY", "0")
    monkeypatch.setenv("TUNELAKE_SPOTIFY_CLIENT_SECRET", "5")
    with pytest.raises(ConfigError, match=r"concurrency \(TUNELAKE_CONCURRENCY\):.*got '0'"):
        load_settings(api_token=["planted-secret"])
    with pytest.raises(ConfigError) as raised:
        load_settings(api_token=["planted-secret"])
    assert "planted-secret" not in str(raised.value)
