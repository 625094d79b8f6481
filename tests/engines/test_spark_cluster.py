"""What the Spark engine checks before it sends work to a cluster (no cluster needed)."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import spark_module

spark_cluster = spark_module("tunelake.engines.spark_cluster")
from tunelake.cli import app  # noqa: E402
from tunelake.config import ConfigError  # noqa: E402


@pytest.mark.parametrize(
    ("master", "one_host"),
    [
        ("local[*]", True),
        ("local-cluster[2,1,1024]", True),
        ("spark://127.0.0.1:7077", True),
        ("spark://localhost:7077", True),
        ("spark://10.0.0.5:7077", False),
        ("spark://127.0.0.1:7077,10.0.0.6:7077", False),
        ("yarn", False),
    ],
)
def test_which_masters_run_executors_on_other_machines(master: str, one_host: bool) -> None:
    assert spark_cluster.on_one_host(master) is one_host


def test_a_local_lake_is_refused_for_a_master_on_other_machines() -> None:
    with pytest.raises(ConfigError, match=r"put the lake on S3.*file:///data/lake"):
        spark_cluster.check_lake_reach("spark://10.0.0.5:7077", "/data/lake")
    # a shared mount said so, S3, or executors on this machine: accepted
    spark_cluster.check_lake_reach("spark://10.0.0.5:7077", "file:///data/lake")
    spark_cluster.check_lake_reach("spark://10.0.0.5:7077", "s3://bucket/lake")
    spark_cluster.check_lake_reach("spark://127.0.0.1:7077", "/data/lake")
    spark_cluster.check_lake_reach(None, "/data/lake")


def test_the_shipped_package_holds_tunelake_s_modules_without_caches() -> None:
    with zipfile.ZipFile(spark_cluster.package_zip()) as archive:
        names = archive.namelist()
    assert "tunelake/engines/spark.py" in names and "tunelake/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n]


def test_doctor_names_the_spark_master_it_cannot_reach(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    result = CliRunner().invoke(
        app,
        [
            *("doctor", "--home", str(tmp_path), "--engine", "spark"),
            *("--spark-master", f"spark://127.0.0.1:{closed}"),
        ],
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("ok          java") for line in lines)
    assert any(line.startswith("ok          pyspark") for line in lines)
    (master,) = [line for line in lines if "spark://127.0.0.1" in line]
    assert master.startswith("unreachable spark") and "refused" in master
    assert "fix: set TUNELAKE_SPARK_MASTER (or --spark-master)" in result.output
    assert "executors" not in result.output  # no session tried on a master that is not there


def test_doctor_without_the_spark_engine_checks_no_spark(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--home", str(tmp_path)])
    assert result.exit_code == 0 and "pyspark" not in result.output
