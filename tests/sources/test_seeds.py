"""Seed files: names or ids one a line, or a CSV with a name column."""

from __future__ import annotations

import pytest

from tunelake.names import MAX_QUERY_LENGTH
from tunelake.sources.seeds import SeedsError, read_seeds


def test_lines_and_csv(tmp_path):
    lines = tmp_path / "seeds.txt"
    lines.write_text("# favourites\nSigur Rós\n\nBjörk\nSigur Rós\n", encoding="utf-8")
    assert read_seeds(lines) == ["Sigur Rós", "Björk"]
    table = tmp_path / "seeds.csv"
    table.write_text("Artist,country\nMúm,IS\nGusGus,IS\n", encoding="utf-8")
    assert read_seeds(table) == ["Múm", "GusGus"]


@pytest.mark.parametrize(
    ("name", "text"),
    [("seeds.txt", ""), ("seeds.txt", "# only a comment\n\n"), ("seeds.csv", "name\n")],
)
def test_a_file_naming_no_artist_is_an_error_not_the_default_artists(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SeedsError, match=rf"{name} names no artist: write one name"):
        read_seeds(path)


def test_a_non_utf8_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_bytes(b"Sigur R\xc3\xb3s\nBj\xf6rk\n")
    with pytest.raises(SeedsError) as info:
        read_seeds(path)
    assert str(info.value) == f"seeds file {path} is not UTF-8 text (line 2): re-save it as UTF-8"


def test_a_csv_without_a_name_column_says_which_it_takes(tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text("country\nIS\n")
    with pytest.raises(SeedsError, match=r"seeds\.csv has no name column \(name, artist"):
        read_seeds(path)


def test_a_name_past_the_bound_is_named_with_its_line(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_text("# mine\nBjörk\n" + "x" * (MAX_QUERY_LENGTH + 1) + "\n")
    with pytest.raises(SeedsError) as info:
        read_seeds(path)
    assert str(info.value).startswith(
        f"seeds file {path}, line 3: a name of {MAX_QUERY_LENGTH + 1} characters; a name or id "
        f"is at most {MAX_QUERY_LENGTH}"
    )
    path.write_text("Björk\n" + "x" * MAX_QUERY_LENGTH + "\n")
    assert read_seeds(path) == ["Björk", "x" * MAX_QUERY_LENGTH]


def test_a_csv_field_of_megabytes_is_named_with_its_line(tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text("name,country\nMúm,IS\n" + "y" * 5_000_000 + ",IS\n")
    with pytest.raises(SeedsError, match=rf"^seeds file {path}, line 3: "):
        read_seeds(path)
    path.write_text("name,country\nMúm,IS\n" + "y" * 1000 + ",IS\n")
    with pytest.raises(SeedsError, match=rf"^seeds file {path}, line 3: a name of 1,000 char"):
        read_seeds(path)
