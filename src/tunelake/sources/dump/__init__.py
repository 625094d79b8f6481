"""Dataset dumps: CSV or Parquet files with one row per track (the widely shared Spotify
dataset dumps), for users who hold such a file and no API access.

A dump row carries a track id and name, an artist id and name, optionally genres and
popularity, and the audio-feature columns: `read` reads the file as it is, `columns` says
which of its columns are ours, `source` lands its rows in the raw zone unchanged, and
`records` turns them into dataset rows, as `replay` does for API responses.
"""

from tunelake.sources.dump.columns import parse_mapping
from tunelake.sources.dump.read import DumpError, DumpSpec
from tunelake.sources.dump.source import DumpSource, read_dump

__all__ = ["DumpError", "DumpSource", "DumpSpec", "parse_mapping", "read_dump"]
