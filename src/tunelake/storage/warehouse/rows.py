"""Rows between Arrow and the database: checked and cast before they are written, turned back
into Arrow when read. Checks happen here, the same for every backend, so that bad input gets
one clear error instead of a driver's (or, on SQLite, silent acceptance)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

from tunelake.storage.warehouse.schema import arrow_schema, arrow_type
from tunelake.storage.warehouse.statements import UPDATED_AT

_CSV_BATCH = 50_000


def prepare(table: sa.Table, rows: pa.Table, carry: Sequence[str] = ()) -> pa.Table:
    """`rows` checked against `table` and cast to its Arrow types, one row per primary key
    (the last one given wins: a batch may name a track twice), sorted by primary key so that
    concurrent writers lock rows in the same order. Columns in `carry` pass through unchecked.
    """
    schema = arrow_schema(table)
    names = rows.column_names
    if len(set(names)) != len(names):
        raise ValueError(f"{table.name}: duplicate column names in {names}")
    if UPDATED_AT in names and UPDATED_AT in schema.names:
        raise ValueError(f"{table.name}.{UPDATED_AT} is set by the warehouse; drop the column")
    unknown = [n for n in names if n not in schema.names and n not in carry]
    if unknown:
        raise ValueError(f"{table.name}: unknown column(s) {unknown}; columns are {schema.names}")
    required = [
        c.name
        for c in table.columns
        if not c.nullable and c.name != UPDATED_AT and c.name not in names
    ]
    if required:
        raise ValueError(f"{table.name}: missing required column(s) {required}")
    checked = pa.table(
        {
            n: rows.column(n) if n in carry else _checked(table, schema.field(n), rows.column(n))
            for n in names
        }
    )
    return unique_last(checked, [c.name for c in table.primary_key.columns])


def _checked(table: sa.Table, field: pa.Field, values: pa.ChunkedArray) -> pa.ChunkedArray:
    where = f"{table.name}.{field.name}"
    try:
        cast = values.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"{where}: cannot store {values.type} values as {field.type}: {exc}"
        ) from None
    if not field.nullable and cast.null_count:
        raise ValueError(f"{where} is required but {cast.null_count} row(s) have no value")
    if pa.types.is_floating(field.type) and pc.any(pc.invert(pc.is_finite(cast))).as_py():
        raise ValueError(f"{where}: NaN and infinity cannot be stored (MySQL has neither)")
    length = getattr(table.c[field.name].type, "length", None)
    if length is not None and len(cast):
        longest = pc.max(pc.utf8_length(cast)).as_py()
        if longest is not None and longest > length:
            raise ValueError(
                f"{where}: a value of {longest} characters exceeds the limit of {length}"
            )
    return cast


def unique_last(rows: pa.Table, key: Sequence[str]) -> pa.Table:
    """The last row of each key, sorted by key."""
    # The sort is stable, so within a run of equal keys the row given last comes last.
    ordered = rows.take(pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in key]))
    if ordered.num_rows < 2:
        return ordered
    current, following = ordered.slice(0, ordered.num_rows - 1), ordered.slice(1)
    changes = [pc.not_equal(current.column(k), following.column(k)) for k in key]
    last_of_run = functools.reduce(pc.or_, changes)
    if pc.all(last_of_run).as_py():
        return ordered
    return ordered.filter(pa.concat_arrays([*last_of_run.chunks, pa.array([True])]))


def genre_rows(artists: pa.Table) -> tuple[pa.Array, pa.Table]:
    """From artists with a `genres` list column: the artists whose genres are known (null
    means unknown, e.g. from an API that no longer reports genres) and their artist_genres
    rows. An empty list is known: that artist has no genres."""
    try:
        genres = artists.column("genres").cast(pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"artists.genres must be a list of strings: {exc}") from None
    known = pc.is_valid(genres)
    lists = genres.filter(known).combine_chunks()
    ids = artists.column("artist_id").filter(known).combine_chunks()
    rows = pa.table(
        {
            "artist_id": ids.take(pc.list_parent_indices(lists)),
            "genre": pc.list_flatten(lists),
        }
    )
    return ids, rows


def dbapi_rows(
    rows: pa.Table, table: sa.Table, dialect: sa.Dialect, order: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Row tuples in `order`, each value bound exactly as SQLAlchemy would bind it."""
    columns = []
    for name in order:
        values = rows.column(name).to_pylist()
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(values if process is None else [process(v) for v in values])
    return list(zip(*columns, strict=True))


def csv_chunks(rows: pa.Table, options: pacsv.WriteOptions) -> Iterator[bytes]:
    """The rows as CSV, a batch at a time: a large load is never one CSV in memory."""
    for batch in rows.to_batches(max_chunksize=_CSV_BATCH):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, options)
        yield sink.getvalue().to_pybytes()


def to_arrow(table: sa.Table, rows: Iterable[Sequence[Any]]) -> pa.Table:
    """Result rows of `select(table)` as an Arrow table with the table's schema."""
    schema = arrow_schema(table)
    columns = list(zip(*rows, strict=True)) or [() for _ in schema.names]
    return pa.Table.from_arrays(
        [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def to_db_value(column: sa.Column[Any], value: Any) -> Any:
    """One value for `column`, coerced as a batch would be ('2026-11-26' for a date, an aware
    datetime to naive UTC)."""
    if value is None:
        return None
    target = arrow_type(column.type)
    try:
        coerced = pa.array([value]).cast(target)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"{column.table.name}.{column.name}: {value!r} is not a {target}: {exc}"
        ) from None
    if isinstance(coerced, datetime):
        return coerced.astimezone(UTC).replace(tzinfo=None)
    return coerced
