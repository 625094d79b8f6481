"""A Spark standalone cluster on loopback: one master and N workers, each its own process
started from PySpark's own jars, each worker with its own work directory, cores and memory.

The processes are the ones `spark-class org.apache.spark.deploy.master.Master` and
`…deploy.worker.Worker` would run: Spark's launcher (`org.apache.spark.launcher.Main`, what
`spark-class` calls) builds each java command line, which is then started directly, so the
state file's command is the process's own and a recycled pid never passes for a server.
Stopping a worker stops its executors (and their Python workers) with it: it runs in a
process group of its own, and the whole group is terminated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tunelake.localservices.process import HOST, Server, ServerKind, ServiceError, terminate_group


class SparkClusterError(ServiceError):
    """The Spark cluster could not be started or stopped; the message says why."""


LAUNCHER = "org.apache.spark.launcher.Main"
MASTER = ServerKind("spark master", "master.json", "master.log", SparkClusterError, 20.0)
WORKER = ServerKind("spark worker", "worker.json", "worker.log", SparkClusterError, 20.0)


def spark_home() -> Path:
    """PySpark's package directory: it holds Spark's jars (SPARK_HOME for pip installs)."""
    try:
        import pyspark
    except ModuleNotFoundError as exc:
        raise SparkClusterError("pyspark is not installed: pip install -e '.[spark]'") from exc
    return Path(pyspark.__file__).parent


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not Path(found).exists():
        raise SparkClusterError("java is not installed (Spark needs Java 17 or 21): set JAVA_HOME")
    return found


def cluster_env() -> dict[str, str]:
    """The servers' environment: Spark's home, loopback addresses, this interpreter for the
    executors' Python workers."""
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOCAL_HOSTNAME": HOST,
        # what bin/load-spark-env.sh sets for spark-class: the launcher asks for it
        "SPARK_SCALA_VERSION": os.environ.get("SPARK_SCALA_VERSION", "2.13"),
        # no submission REST server: it takes the fixed port 6066, one cluster per machine
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }


def launch_command(main_class: str, *args: str) -> list[str]:
    """The java command line spark-class would run for main_class (Spark's own launcher)."""
    home = spark_home()
    built = subprocess.run(
        [java(), "-Xmx128m", "-cp", f"{home}/jars/*", LAUNCHER, main_class, *args],
        env=cluster_env(),
        capture_output=True,
        check=False,
    )
    if built.returncode != 0:
        raise SparkClusterError(
            f"Spark's launcher failed for {main_class}: {built.stderr.decode(errors='replace')}"
        )
    # Output: notes for the shell, a NUL and a newline, then the command's words, NUL-ended.
    words = built.stdout.decode().split("\0\n", 1)[-1]
    return [word for word in words.split("\0") if word]


@dataclass(frozen=True, kw_only=True)
class SparkMaster(Server):
    kind = MASTER
    web_url: str


@dataclass(frozen=True, kw_only=True)
class SparkWorker(Server):
    kind = WORKER
    web_url: str
    work_dir: Path

    def stop(self, timeout: float | None = None) -> None:
        """Stop the worker and its executors (its process group)."""
        terminate_group(self.pid, self.kind.stop_timeout if timeout is None else timeout)
        super().stop(timeout)

    def kill(self) -> None:
        """SIGKILL the worker and its executors at once: a machine lost, not a clean stop."""
        terminate_group(self.pid, 0.0, kill=True)
        super().stop()


@dataclass(frozen=True)
class SparkCluster:
    master: SparkMaster
    workers: list[SparkWorker] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return self.master.endpoint_url

    def status(self) -> dict[str, Any]:
        """The master's /json: workers (id, webuiaddress, state, cores), apps."""
        data: dict[str, Any] = httpx.get(f"{self.master.web_url}/json/", timeout=5).json()
        return data

    def alive_workers(self) -> list[dict[str, Any]]:
        return [w for w in self.status()["workers"] if w["state"] == "ALIVE"]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.master.stop()


def _answers_json(url: str) -> None:
    httpx.get(f"{url}/json/", timeout=2).raise_for_status()


def start_master(data_dir: Path, *, timeout: float = 60.0) -> SparkMaster:
    directory = MASTER.at(data_dir)
    directory.refuse_if_running()
    port, web = MASTER.take_port(0), MASTER.take_port(0)
    command = launch_command(
        "org.apache.spark.deploy.master.Master",
        *("--host", HOST, "--port", str(port), "--webui-port", str(web)),
    )
    web_url = f"http://{HOST}:{web}"
    process = directory.start(
        command,
        endpoint_url=f"spark://{HOST}:{port}",
        detached=True,  # a process group of its own: stopped as one
        ready=lambda: _answers_json(web_url),
        retry_on=(httpx.HTTPError,),
        timeout=timeout,
        env=cluster_env(),
        web_url=web_url,
    )
    master = SparkMaster(
        data_dir=directory.path,
        endpoint_url=f"spark://{HOST}:{port}",
        pid=process.pid,
        web_url=web_url,
        _process=process,
    )
    master.stop_at_exit()
    return master


def start_worker(
    data_dir: Path,
    master: SparkMaster,
    *,
    cores: int = 1,
    memory: str = "1g",
    timeout: float = 60.0,
) -> SparkWorker:
    """A worker of `cores` and `memory` for master, its executors' files in data_dir/work;
    ready once the master lists it ALIVE."""
    directory = WORKER.at(data_dir)
    directory.refuse_if_running()
    web = WORKER.take_port(0)
    work_dir = directory.path / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    command = launch_command(
        "org.apache.spark.deploy.worker.Worker",
        master.endpoint_url,
        *("--host", HOST, "--webui-port", str(web)),
        *("--cores", str(cores), "--memory", memory, "--work-dir", str(work_dir)),
    )
    web_url = f"http://{HOST}:{web}"

    def registered() -> None:
        workers = httpx.get(f"{master.web_url}/json/", timeout=2).json()["workers"]
        if not any(w["webuiaddress"] == web_url and w["state"] == "ALIVE" for w in workers):
            raise ConnectionError(f"the master does not list the worker at {web_url} yet")

    process = directory.start(
        command,
        endpoint_url=web_url,
        detached=True,
        ready=registered,
        retry_on=(httpx.HTTPError, ConnectionError, KeyError),
        timeout=timeout,
        env=cluster_env(),
    )
    worker = SparkWorker(
        data_dir=directory.path,
        endpoint_url=web_url,
        pid=process.pid,
        web_url=web_url,
        work_dir=work_dir,
        _process=process,
    )
    worker.stop_at_exit()
    return worker


@contextmanager
def spark_cluster(
    data_dir: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g"
) -> Iterator[SparkCluster]:
    """A master and `workers` workers under data_dir (master/, worker-0/, …); all stopped,
    executors included, when the block ends."""
    with ExitStack() as stack:
        master = start_master(Path(data_dir) / "master")
        stack.callback(master.stop)
        # the workers start together: each is a JVM of several seconds on its own
        with ThreadPoolExecutor(workers) as pool:
            starting = [
                pool.submit(
                    start_worker, Path(data_dir) / f"worker-{i}", master, cores=cores, memory=memory
                )
                for i in range(workers)
            ]
            wait(starting)
        started = [f.result() for f in starting if f.exception() is None]
        for worker in started:
            stack.callback(worker.stop)
        for future in starting:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        yield SparkCluster(master, started)
