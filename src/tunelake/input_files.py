"""A file a user names (seeds, a dataset dump, SQL, a plays file, the secrets and config
files), checked before anything reads it: reading a FIFO blocks until a writer comes, so a
command given one would hang, and "does not exist" would mislead for a directory, a symlink
loop or a broken link."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from tunelake.errors import InputError, UserError

_KINDS: tuple[tuple[Callable[[int], bool], str, str], ...] = (
    (stat.S_ISDIR, "a directory", "give a file inside it"),
    (stat.S_ISFIFO, "a FIFO", "save the input to a file and give that"),
    (stat.S_ISSOCK, "a socket", "save the input to a file and give that"),
    (stat.S_ISCHR, "a character device", "save the input to a file and give that"),
    (stat.S_ISBLK, "a block device", "give a file"),
)


def input_file(path: Path, what: str, error: type[UserError] = InputError) -> Path:
    """`path` when it is a regular file (after its symlinks); else `error` saying what it is
    instead: missing, a directory, a FIFO, a socket, a device, a symlink loop or a broken
    symlink. Whether it can be read is left to the reader, which names the file too."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise error(f"{what} {path} {_unreachable(path, exc)}") from exc
    if stat.S_ISREG(mode):
        return path
    kind, fix = next(((k, f) for test, k, f in _KINDS if test(mode)), ("not a file", "give a file"))
    raise error(f"{what} {path} is not a regular file ({kind}): {fix}")


def _unreachable(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is not a regular file (a symlink loop): point the link at the file"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"is a symlink to {os.readlink(path)}, which does not exist"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "does not exist"
    return f"cannot be read: {exc.strerror}"
