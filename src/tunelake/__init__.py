"""tunelake: music APIs to a warehouse, a Parquet lake, exact artist similarity and a serving store."""

__version__ = "0.1.0"
