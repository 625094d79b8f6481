"""A step's inputs for a dt, read back from the lake.

`tunelake run` hands each step the previous step's output in memory; an orchestrator runs
each step on its own (another process, another day), so it reads the same inputs from the
partitions the previous step wrote. A partition that was never written is an error naming
the step to run first.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pyarrow as pa

from tunelake.errors import UserError
from tunelake.pipeline.steps import Curated, Similarity
from tunelake.storage.lake.port import Lake


class MissingInput(UserError):
    """A step's upstream partition is not in the lake: materialise the upstream first."""


def _partition(lake: Lake, dataset: str, dt: date, made_by: str) -> pa.Table:
    table = lake.read_partition(dataset, dt)
    if table is None:
        raise MissingInput(
            f"no {dataset} partition for dt {dt} in the lake {lake.url}: run {made_by} for {dt} first"
        )
    return table


def read_curated(lake: Lake, dt: date) -> Curated:
    """The dt's validated datasets, as validate and load wrote them."""
    names = [f.name for f in fields(Curated)]
    return Curated(**{name: _partition(lake, name, dt, "validate/load") for name in names})


def read_similarity(lake: Lake, dt: date) -> Similarity:
    """The dt's artist vectors and neighbour sets, as transform wrote them."""
    return Similarity(
        vectors=_partition(lake, "artist_vectors", dt, "transform"),
        related=_partition(lake, "related_artists", dt, "transform"),
    )
