"""Where the lake's bytes live: one fsspec filesystem (a local folder or S3) and a root in it.

The two differ only in how a file appears whole: locally it is written under a temp name and
renamed (`os.replace`); on S3 an object appears whole when its upload completes (one PUT, or
the completion of a multipart upload), so it is written in place and discarded on error.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, cast

import pyarrow.fs as pafs
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from tunelake.errors import ConfigError
from tunelake.storage.lake.options import DEFAULT_NAMESPACE, S3Options
from tunelake.storage.lake.port import LakeError
from tunelake.storage.lake.rooted import check_owned, owned, reroot

TEMP_PREFIX = ".tmp-"
S3_SCHEME = "s3://"


@dataclass(frozen=True)
class Store:
    fs: AbstractFileSystem
    root: str
    """The lake root as a path in `fs` (no scheme)."""
    url: str
    """The lake root as users and SQL engines name it (a local path or s3://bucket/prefix)."""
    namespace: str = DEFAULT_NAMESPACE
    """The namespace of the lake's tables (their files are under `<root>/<namespace>/`)."""

    def __repr__(self) -> str:  # the filesystem holds credentials: show only where
        return f"Store({self.url!r})"

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @cached_property
    def arrow_fs(self) -> pafs.FileSystem:
        """The filesystem for pyarrow readers: pyarrow's own locally (no Python in the read
        path), the fsspec one wrapped for S3."""
        if self.is_local:
            return pafs.LocalFileSystem()
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))

    @property
    def location(self) -> str:
        """The root as a URL with a scheme (file:// or s3://), as Iceberg records locations."""
        return f"file://{self.root}" if self.is_local else self.url

    def join(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def url_of(self, path: str) -> str:
        return path if self.is_local else S3_SCHEME + path

    def rooted(self, location: str) -> str:
        """A location as Iceberg records it (file://… or s3://…, possibly under the root the
        lake had when it was written: before a move or a copy) under this lake's root."""
        return reroot(location, self.location, self.namespace)

    def path_of(self, location: str) -> str:
        """A location as Iceberg records it, re-rooted (`rooted`), as the filesystems name it:
        the one conversion from recorded locations to files."""
        return self.rooted(location).removeprefix("file://").removeprefix(S3_SCHEME)

    def owns(self, path: str) -> bool:
        """Whether path (as the filesystem names it) lies under the lake's root."""
        return owned(path, self.root)

    def check_owns(self, path: str, doing: str) -> None:
        """LakeLocationError naming path unless it lies under the lake's root."""
        check_owned(path, self.root, doing)

    @contextmanager
    def writer(self, path: str) -> Iterator[IO[bytes]]:
        """A file that appears at path whole when the block ends, and not at all on error."""
        if self.is_local:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}-{target.name}")
            try:
                with temp.open("wb") as f:
                    yield f
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
            return
        f = self.fs.open(path, "wb")
        try:
            yield cast(IO[bytes], f)
        except BaseException:
            f.discard()
            raise
        f.close()

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return cast(bytes, self.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def names(self, directory: str) -> list[str]:
        """Base names of directory's entries, sorted; [] if it does not exist."""
        try:
            entries = self.fs.ls(directory, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def remove(self, paths: list[str]) -> None:
        """Delete files and folders (recursively); already gone is fine."""
        for path in paths:
            with suppress(FileNotFoundError):
                self.fs.rm(path, recursive=True)
            if not self.is_local:
                # SeaweedFS keeps listing an emptied folder until its `folder/` key is
                # deleted too; on AWS that key does not exist and the delete is a no-op.
                bucket, key, _ = self.fs.split_path(path)
                self.fs.call_s3("delete_object", Bucket=bucket, Key=f"{key}/")


def connect(url: str, s3: S3Options | None = None, namespace: str = DEFAULT_NAMESPACE) -> Store:
    """The store for a lake URL (a local path or file://, or s3://bucket[/prefix]) whose tables
    are in namespace."""
    if url.startswith(S3_SCHEME):
        _check_root(url)
        from tunelake.storage.lake.s3 import s3_store  # the s3 extra: only an S3 lake needs it

        return s3_store(url, s3 or S3Options(), namespace)
    if "://" in url and not url.startswith("file://"):
        raise LakeError(f"unsupported lake URL {url!r}: use a local folder or s3://bucket/prefix")
    root = Path(url.removeprefix("file://")).expanduser().resolve().as_posix()
    _check_root(root)
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(
            f"the lake {root} is not a directory: set TUNELAKE_LAKE_URL (or --home) to a folder"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot create the lake {root}: {exc.strerror}; set TUNELAKE_LAKE_URL (or --home) "
            "to a writable folder"
        ) from None
    return Store(LocalFileSystem(), root, root, namespace)


def _check_root(url: str) -> None:
    if "=" in url:
        raise LakeError(
            f"lake root {url!r} has '=' in it: SQL engines would read a folder name with '=' "
            "as a Hive partition column; choose a root without '='"
        )
