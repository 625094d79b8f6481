"""User-artist play counts from a file in the Last.fm "HetRec 2011" `user_artists.dat` layout:
tab-separated `userID artistID weight` (weight = plays), one header line, integer ids.

The public dataset (GroupLens, http://grouplens.org/datasets/hetrec-2011/; non-commercial
research use, cite Cantador et al., HetRec 2011) also ships `artists.dat` (`id name url
pictureURL`): `read_artist_names` reads it when it sits next to the plays file.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tunelake.errors import InputError
from tunelake.input_files import input_file

COLUMNS = ("userID", "artistID", "weight")


class UserArtistsError(InputError):
    """The plays file cannot be used; the message names the file and what is wrong."""


def read_user_artists(path: Path) -> pa.Table:
    """Columns user_id, artist_id (strings) and plays (int64 > 0), one row per line."""
    input_file(path, "plays file", UserArtistsError)
    table = _read_tsv(path, {"userID": pa.int64(), "artistID": pa.int64(), "weight": pa.int64()})
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise UserArtistsError(
            f"{path}: the header must name {' '.join(COLUMNS)} (tab-separated); "
            f"missing {', '.join(missing)}"
        )
    if table.num_rows == 0:
        raise UserArtistsError(f"{path}: no user-artist rows after the header")
    weight = table.column("weight")
    for name in COLUMNS:
        if table.column(name).null_count:
            raise UserArtistsError(f"{path}: empty {name} values")
    if pc.min(weight).as_py() <= 0:
        raise UserArtistsError(f"{path}: weight (plays) must be positive")
    return pa.table(
        {
            "user_id": table.column("userID").cast(pa.string()),
            "artist_id": table.column("artistID").cast(pa.string()),
            "plays": weight,
        }
    )


def read_artist_names(plays_path: Path) -> dict[str, str]:
    """artist id -> name from the `artists.dat` next to `plays_path` ({} without one)."""
    path = plays_path.with_name("artists.dat")
    if not path.is_file():
        return {}
    table = _read_tsv(path, {"id": pa.int64(), "name": pa.string()}, ["id", "name"])
    return dict(
        zip(table["id"].cast(pa.string()).to_pylist(), table["name"].to_pylist(), strict=True)
    )


def _read_tsv(
    path: Path, types: dict[str, pa.DataType], columns: list[str] | None = None
) -> pa.Table:
    try:
        return pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=columns),
        )
    except OSError as exc:
        raise UserArtistsError(f"cannot read {path}: {exc}") from exc
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        # Arrow's message names the row and the bad value; keep its first line only
        reason = str(exc).splitlines()[0]
        raise UserArtistsError(
            f"{path} is not a tab-separated userID artistID weight file: {reason}"
        ) from exc
