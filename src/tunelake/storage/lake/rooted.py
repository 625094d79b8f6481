"""Locations recorded under another root, read and written under the lake's own root.

Iceberg records absolute locations: the catalog a table's metadata file, the metadata its
manifests and the manifests their data files. After a data directory is moved (`mv`) or copied
(`cp -a`), those name the old root. Rather than rewrite every metadata file, every location is
re-rooted when it is used: a location that ends in `<namespace>/<table>[/(data|metadata)/…]`
(the layout of every table of the lake) is read and written under the current root, whatever root
it was recorded under. So a moved lake keeps working and a copy reads and writes its own files,
never the original's.

A lake never writes or deletes outside its own root: a location that cannot be re-rooted and
lies elsewhere is refused (LakeLocationError naming it).
"""

from __future__ import annotations

import re
from functools import cache

from pyiceberg.io import InputFile, OutputFile
from pyiceberg.io.pyarrow import PyArrowFile, PyArrowFileIO
from pyiceberg.typedef import EMPTY_DICT, Properties

from tunelake.storage.lake.port import LakeError

ROOT = "tunelake.lake-root"
"""The pyiceberg property holding the lake's root location (file:///… or s3://…)."""
NAMESPACE = "tunelake.lake-namespace"


class LakeLocationError(LakeError):
    """A location outside the lake's root: the lake neither writes nor deletes there."""


@cache
def _table_path(namespace: str) -> re.Pattern[str]:
    # Greedy prefix: the last `/<namespace>/<table>` (then data/ or metadata/) is the table's.
    return re.compile(
        rf"^(?P<scheme>[a-z0-9]+://)(?P<old>.*)/{re.escape(namespace)}/"
        rf"(?P<rest>[^/]+(?:/(?:data|metadata)/.+)?)$"
    )


def reroot(location: str, root: str, namespace: str) -> str:
    """location (file://…, s3://… or a bare local path) under root when it names a file of a
    table of namespace recorded under another root; otherwise as given (with file:// for a bare
    local path)."""
    if "://" not in location:
        location = "file://" + location
    if owned(location, root):
        return location
    found = _table_path(namespace).match(location)
    if found is None or not root.startswith(found["scheme"]):
        return location
    return f"{root}/{namespace}/{found['rest']}"


def owned(location: str, root: str) -> bool:
    """Whether location lies under root (both with their scheme, or both without)."""
    return location == root or location.startswith(root.rstrip("/") + "/")


def check_owned(location: str, root: str, doing: str) -> None:
    """LakeLocationError unless location lies under root."""
    if not owned(location, root):
        raise LakeLocationError(
            f"refusing to {doing} {location}: it is outside the lake {root}, and a lake only "
            "writes and deletes its own files"
        )


class RootedFileIO(PyArrowFileIO):
    """pyiceberg's PyArrow FileIO with every location re-rooted onto the lake's root (the
    properties ROOT and NAMESPACE), refusing writes and deletes outside it."""

    def __init__(self, properties: Properties = EMPTY_DICT) -> None:
        super().__init__(properties)
        self.root = str(properties[ROOT]).rstrip("/")
        self.namespace = str(properties[NAMESPACE])

    def _rooted(self, location: str) -> str:
        return reroot(location, self.root, self.namespace)

    def _owned(self, location: str, doing: str) -> str:
        rooted = self._rooted(location)
        check_owned(rooted, self.root, doing)
        return rooted

    def new_input(self, location: str) -> PyArrowFile:
        return super().new_input(self._rooted(location))

    def new_output(self, location: str) -> PyArrowFile:
        return super().new_output(self._owned(location, "write"))

    def delete(self, location: str | InputFile | OutputFile) -> None:
        name = location.location if isinstance(location, (InputFile, OutputFile)) else location
        super().delete(self._owned(name, "delete"))
