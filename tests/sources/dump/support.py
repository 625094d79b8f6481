"""Helpers shared by the dump tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelake.sources.dump import DumpError, DumpSpec, read_dump


def dump_error(path: Path, content: bytes) -> str:
    """The message of the DumpError that reading `content` as a dump at `path` raises,
    checked to name the file and to hold no control character."""
    path.write_bytes(content)
    with pytest.raises(DumpError) as info:
        read_dump(DumpSpec(path))
    message = str(info.value)
    assert str(path) in message
    assert all(ch.isprintable() for ch in message), repr(message)
    return message
