"""A file a user names, checked before it is read: what it is when it is not a regular file."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tunelake.errors import ConfigError, InputError
from tunelake.input_files import input_file


def test_a_regular_file_and_a_link_to_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text("Björk\n")
    link = tmp_path / "link.txt"
    link.symlink_to(path)
    assert input_file(path, "seeds file") == path
    assert input_file(link, "seeds file") == link


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "pipe")
    return tmp_path / "pipe"


def _loop(tmp_path: Path) -> Path:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


def _socket(tmp_path: Path) -> Path:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
    return path


def _broken_link(tmp_path: Path) -> Path:
    (tmp_path / "link").symlink_to(tmp_path / "gone.csv")
    return tmp_path / "link"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_fifo, "is not a regular file (a FIFO): save the input to a file and give that"),
        (lambda t: t, "is not a regular file (a directory): give a file inside it"),
        (_loop, "is not a regular file (a symlink loop): point the link at the file"),
        (_socket, "is not a regular file (a socket): save the input to a file and give that"),
        (
            lambda t: Path("/dev/null"),
            "is not a regular file (a character device): save the input to a file and give that",
        ),
        (_broken_link, "is a symlink to {tmp}/gone.csv, which does not exist"),
        (lambda t: t / "absent.txt", "does not exist"),
        (lambda t: t / "absent" / "x.txt", "does not exist"),
    ],
)
def test_what_is_not_a_file_is_named_as_what_it_is(tmp_path: Path, make, says: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as info:
        input_file(path, "seeds file")
    assert str(info.value) == f"seeds file {path} {says.format(tmp=tmp_path)}"


def test_the_caller_chooses_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^TUNELAKE_SECRETS_FILE .* \(a FIFO\)"):
        input_file(_fifo(tmp_path), "TUNELAKE_SECRETS_FILE", ConfigError)
