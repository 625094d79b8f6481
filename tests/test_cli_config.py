"""Bad settings and data directories, as a user meets them: one `error:` line from a fresh
`tunelake` process, the right exit code, no traceback, no password, nothing created."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import _can_mount_read_only
from tunelake.errors import EX_USAGE

PASSWORD = "s3cret-pw"


def tunelake(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "tunelake", *args],
        env={**clean, "COLUMNS": "400", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(done: subprocess.CompletedProcess[str], code: int = EX_USAGE) -> str:
    """The error line (`run` draws its progress bars on stderr before it)."""
    assert done.returncode == code, done.stdout + done.stderr
    *before, last = done.stderr.strip().splitlines()
    assert last.startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    assert not any(line.startswith("error: ") for line in before), done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    return last


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"not a url :{PASSWORD}@", "TUNELAKE_WAREHOUSE_URL is not a database URL"),
        (f"oracle+cx://u:{PASSWORD}@h/db", "unsupported database 'oracle'; supported: SQLite"),
        ("sqlite:///x.db?ssl_ca=/nope", "unknown query option(s) ssl_ca for sqlite"),
        (f"mysql+pymysql://u:{PASSWORD}@127.0.0.1:1/db?ssl_ca=/nope", "ssl_ca=/nope: no such"),
    ],
)
def test_a_bad_warehouse_url_is_one_line_naming_the_setting(
    tmp_path: Path, url: str, says: str
) -> None:
    home = str(tmp_path / "home")
    for command in (["runs"], ["run", "--dt", "2026-01-01"]):
        said = one_line(tunelake(tmp_path, *command, "--home", home, TUNELAKE_WAREHOUSE_URL=url))
        assert says in said
    doctor = tunelake(tmp_path, "doctor", "--home", home, TUNELAKE_WAREHOUSE_URL=url)
    assert doctor.returncode == 1 and PASSWORD not in doctor.stdout
    assert "unusable    warehouse" in doctor.stdout and says in doctor.stdout, doctor.stdout
    assert "start the database" not in doctor.stdout


def test_a_profile_that_is_not_a_table_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "tunelake.toml").write_text("[profiles]\nlocal = 5\n")
    said = one_line(tunelake(tmp_path, "runs", "--home", str(tmp_path / "home")))
    assert "tunelake.toml: profiles.local must be a table" in said


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "TUNELAKE_LAKE_CATALOG_URL is not a database URL"),
        ("foo://x", "TUNELAKE_LAKE_CATALOG_URL foo://x: unsupported database 'foo'"),
    ],
)
def test_a_bad_catalog_url_is_a_config_error_not_a_server_down(
    tmp_path: Path, url: str, says: str
) -> None:
    home = tmp_path / "home"
    (home / "lake").mkdir(parents=True)
    said = one_line(
        tunelake(
            tmp_path, "lake", "info", "--home", str(home), **{"TUNELAKE_LAKE_CATALOG_URL": url}
        )
    )
    assert says in said and "REST catalog (http(s)://…) or glue://" in said
    assert "server runs" not in said


def test_a_lake_that_is_a_file_is_named(tmp_path: Path) -> None:
    file = tmp_path / "lake"
    file.write_text("not a folder")
    for command in (["lake", "info"], ["run", "--dt", "2026-01-01"]):
        done = tunelake(
            tmp_path, *command, "--home", str(tmp_path / "home"), TUNELAKE_LAKE_URL=str(file)
        )
        assert f"the lake {file} is not a directory" in one_line(done)


def test_readers_and_maintenance_refuse_a_missing_data_directory(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    said = one_line(tunelake(tmp_path, "serve", "--port", "0", "--home", str(missing)), 1)
    assert f"data directory {missing} does not exist: run `tunelake run` first" in said
    for maintenance in ("migrate", "repair", "vacuum"):
        said = one_line(tunelake(tmp_path, "lake", maintenance, "--home", str(missing)), 1)
        assert f"no lake at {missing}/lake" in said
    doctor = tunelake(tmp_path, "doctor", "--home", str(missing))  # a check, not a first run
    assert doctor.returncode == 0 and "lake      " in doctor.stdout, doctor.stdout
    assert not missing.exists()


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs root and unshare -m")
def test_a_writer_on_a_read_only_lake_or_home_is_one_line(tmp_path: Path) -> None:
    lake, home = tmp_path / "lake", tmp_path / "home"
    lake.mkdir()
    home.mkdir()
    run = f"{shlex.quote(sys.executable)} -m tunelake run --dt 2026-01-01"
    script = "; ".join(
        [
            f"mount --bind {lake} {lake} && mount -o remount,ro,bind {lake}",
            f"mount --bind {home} {home} && mount -o remount,ro,bind {home}",
            f"TUNELAKE_LAKE_URL={lake} {run} --home {tmp_path / 'other'}",
            f"{run} --home {home}",
        ]
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("TUNELAKE_")},
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert lines == [
        f"error: cannot write to the lake {lake}: it is read-only; give a writable folder "
        "with TUNELAKE_LAKE_URL (or --home)",
        f"error: cannot write to the data directory {home}: it is read-only; give a writable "
        "folder with --home or TUNELAKE_HOME",
    ], done.stderr


def test_a_corrupt_catalog_file_says_damaged_and_the_repair_not_server_down(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / "lake").mkdir(parents=True)
    (home / "lake" / "catalog.db").write_bytes(os.urandom(5000))
    said = one_line(tunelake(tmp_path, "lake", "info", "--home", str(home)))
    assert "catalog file" in said and "is damaged" in said and "`tunelake lake repair`" in said
    doctor = tunelake(tmp_path, "doctor", "--home", str(home))
    assert doctor.returncode == 1 and "unusable    lake" in doctor.stdout, doctor.stdout
    assert "`tunelake lake repair`" in doctor.stdout and "writable" not in doctor.stdout
