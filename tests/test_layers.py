"""The layering rules of the package that code review keeps finding broken."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tunelake

SRC = Path(tunelake.__file__).parent


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_validation_imports_nothing_from_the_sources():
    assert not {m for m in _imported(SRC / "validate.py") if m.startswith("tunelake.sources")}


def test_the_domain_modules_import_no_layer():
    layers = ("sources", "storage", "engines", "pipeline", "orchestration", "service", "cli")
    for module in ("ids.py", "errors.py", "names.py"):
        outer = {
            m for m in _imported(SRC / module) if m.split(".")[1:2] and m.split(".")[1] in layers
        }
        assert not outer, module


def test_config_error_is_an_error_of_errors_py():
    from tunelake import config, errors

    assert config.ConfigError is errors.ConfigError
    assert issubclass(errors.ConfigError, errors.UserError)


def test_the_core_path_needs_no_extra():
    """`make run` installs tunelake without extras: the CLI and the use cases import with
    every extra's libraries missing (each adapter imports its client when it is used)."""
    extras = ["boto3", "botocore", "s3fs", "pymysql", "psycopg", "redis", "pyspark", "dagster"]
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {extras!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import tunelake.cli, tunelake.app, tunelake.pipeline.run\n"
    )
    done = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
