"""Validation contracts: which rows of a dataset are good, and why the others are not.

A contract is declarative: the dataset (its Arrow schema gives the column types, the required
columns and the key) plus rules, each a vectorised check over a `pyarrow.Table`. `validate`
splits the rows into the valid ones, cast to the dataset schema, and the rejected ones, kept
as given with a `reason`; the pipeline quarantines and counts those, never drops them.

Every check is a pyarrow.compute expression over whole columns, so the cost per row is the
C++ kernels' only: no Python runs per row once the rows are an Arrow table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tunelake.datasets import (
    ARTISTS,
    AUDIO_FEATURES,
    MAX_LENGTHS,
    RELATED_ARTISTS,
    TOP_TRACKS,
    TRACKS,
    Dataset,
)
from tunelake.errors import UserError
from tunelake.ids import SPOTIFY_ID

#: A column rows may carry saying where each came from (a dump's row number); a rejected
#: row keeps it, so its quarantine entry points back at the source.
SOURCE_ROW = "source_row"
#: A column rows may carry with a reason the source already found to reject a row (a dump
#: listing a track twice with other values); such a row is quarantined with that reason.
REJECTED = "rejected_by_source"

#: Audio features Spotify defines on [0, 1].
UNIT_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
)

#: The audio features a vector can be made of (the settings choose among them).
FEATURE_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in AUDIO_FEATURES.schema if f.name not in ("track_id", "source", "duration_ms")
)

Mask: TypeAlias = pa.Array | pa.ChunkedArray
Failure: TypeAlias = tuple[str | Mask, Mask]
"""A reason (the same for every row, or one per row) and where it applies."""
Check: TypeAlias = Callable[[pa.Table, Mapping[str, pa.Array]], Mask]
References: TypeAlias = Mapping[str, set[str] | frozenset[str] | pa.Array | pa.ChunkedArray]

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?(inf|infinity|nan)$"
_BOOLEAN = r"^(true|false|1|0)$"


@dataclass(frozen=True)
class Rule:
    """One check over the typed table: `check` is true where a row passes.

    A null result counts as a pass: an absent optional value breaks no range or format rule;
    absence is what `required` rules catch.
    """

    name: str
    columns: tuple[str, ...]
    check: Check
    reason: str
    reference: str | None = None
    """The key of `validate`'s `references` whose known ids the check needs; when the caller
    gives no such set the rule is not applied."""
    parent: str | None = None
    """The dataset a reference rule points at ("artists")."""


@dataclass(frozen=True)
class Contract:
    dataset: Dataset
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Validated:
    valid: pa.Table
    """The passing rows, in the dataset schema."""
    rejected: pa.Table
    """The failing rows: the dataset's columns as given (and SOURCE_ROW where given), plus
    `reason` (every failed rule's reason, joined by "; ")."""

    @property
    def counts(self) -> dict[str, int]:
        return {
            "in": self.valid.num_rows + self.rejected.num_rows,
            "out": self.valid.num_rows,
            "quarantined": self.rejected.num_rows,
        }


class TooManyRejects(UserError):
    """More rows were rejected than a run accepts."""

    def __init__(self, message: str, rejects: Mapping[str, tuple[int, int]], max_fraction: float):
        super().__init__(message)
        self.rejects = dict(rejects)
        """dataset -> (rejected, total), for the datasets over the limit."""
        self.max_fraction = max_fraction


# Rules -----------------------------------------------------------------------------------


def required(column: str) -> Rule:
    """The value is present; a string must also hold more than whitespace."""

    def check(table: pa.Table, _: Mapping[str, pa.Array]) -> Mask:
        values = table[column]
        present = pc.is_valid(values)
        if not pa.types.is_string(values.type):
            return present
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)
        # Kleene logic: a null value is absent (false), not unknown
        return pc.and_kleene(present, pc.invert(blank))

    return Rule(f"required {column}", (column,), check, f"{column} is required")


def between(
    column: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Rule:
    """low <= value <= high (strict on an open side); NaN fails, since it compares false."""
    if low is None and high is None:
        raise ValueError(f"between({column!r}) needs a low or a high bound")
    bounds: list[tuple[Callable[[Mask, Any], Mask], float]] = []
    if low is not None:
        bounds.append((pc.greater if low_open else pc.greater_equal, low))
    if high is not None:
        bounds.append((pc.less if high_open else pc.less_equal, high))

    def check(table: pa.Table, _: Mapping[str, pa.Array]) -> Mask:
        values = table[column]
        return reduce(pc.and_kleene, (compare(values, bound) for compare, bound in bounds))

    if high is None:
        allowed = f"{'>' if low_open else '>='} {low}"
    elif low is None:
        allowed = f"{'<' if high_open else '<='} {high}"
    else:
        allowed = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    return Rule(f"{column} {allowed}", (column,), check, f"{column} must be {allowed}")


def matches(column: str, pattern: str) -> Rule:
    """The whole value matches the RE2 `pattern` (an id format)."""
    anchored = f"^(?:{pattern})$"
    try:  # compile now: a bad pattern is a configuration error, not a data one
        pc.match_substring_regex(pa.array([""]), anchored)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"invalid id pattern {pattern!r}: {exc}") from exc

    def check(table: pa.Table, _: Mapping[str, pa.Array]) -> Mask:
        return pc.match_substring_regex(table[column], anchored)

    return Rule(
        f"{column} format", (column,), check, f"{column} is not a valid id (expected {pattern})"
    )


def any_of(columns: Sequence[str], what: str) -> Rule:
    """At least one of the columns has a value (a row of nothing but its key is no row)."""

    def check(table: pa.Table, _: Mapping[str, pa.Array]) -> Mask:
        return reduce(pc.or_, (pc.is_valid(table[c]) for c in columns))

    return Rule(
        f"any of {', '.join(columns)}",
        tuple(columns),
        check,
        f"no usable {what} (all of {', '.join(columns)} are empty)",
    )


def at_most(column: str, length: int) -> Rule:
    """A text value (each item of a list) has at most `length` characters: what the stores
    keep (a 1 MB name is a bad row, not a failed run)."""

    def check(table: pa.Table, _: Mapping[str, pa.Array]) -> Mask:
        values = table[column]
        if pa.types.is_list(values.type):
            values = values.combine_chunks()
            items = pc.list_flatten(values)
            too_long = pc.greater(pc.utf8_length(items), length)
            bad_rows = pc.list_parent_indices(values).filter(too_long)
            row = pa.array(np.arange(len(values), dtype=np.int64))
            return pc.invert(pc.is_in(row, value_set=bad_rows.cast(pa.int64())))
        return pc.less_equal(pc.utf8_length(values), length)

    return Rule(
        f"{column} length",
        (column,),
        check,
        f"{column} is longer than {length} characters",
    )


#: An id without control characters (a NUL byte) or surrounding whitespace.
_CLEAN_ID = r"^[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"


def clean_id(column: str) -> Rule:
    """An id of a source with ids of its own making (a dump) still has no control
    character and no surrounding whitespace: such an id would never be found again."""

    def check(table: pa.Table, _: Mapping[str, pa.Array]) -> Mask:
        return pc.match_substring_regex(table[column], _CLEAN_ID)

    return Rule(
        f"{column} clean",
        (column,),
        check,
        f"{column} holds a control character or surrounding whitespace",
    )


def known(column: str, among: str) -> Rule:
    """The value is among the known ids passed as `references[column]`; `among` names
    them in the reason (e.g. "artists")."""

    def check(table: pa.Table, references: Mapping[str, pa.Array]) -> Mask:
        values = table[column]
        return pc.or_kleene(pc.is_null(values), pc.is_in(values, value_set=references[column]))

    return Rule(
        f"{column} known",
        (column,),
        check,
        f"unknown {column} (not among the known {among})",
        reference=column,
        parent=among,
    )


# Contracts -------------------------------------------------------------------------------

_DATASETS: dict[str, Dataset] = {
    d.name: d for d in (ARTISTS, TRACKS, TOP_TRACKS, AUDIO_FEATURES, RELATED_ARTISTS)
}

_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "artists": ("artist_id",),
    "tracks": ("track_id", "artist_id", "album_id"),
    "top_tracks": ("artist_id", "track_id"),
    "audio_features": ("track_id",),
    "related_artists": ("artist_id", "related_artist_id"),
}

_RANGES: dict[str, tuple[Rule, ...]] = {
    "artists": (between("popularity", 0, 100), between("followers", 0)),
    "tracks": (between("duration_ms", 0, low_open=True), between("popularity", 0, 100)),
    "top_tracks": (between("rank", 1),),
    "audio_features": (
        *(between(feature, 0, 1) for feature in UNIT_FEATURES),
        between("loudness", -60, 5),
        between("tempo", 0, 300, low_open=True, high_open=True),
        between("key", -1, 11),
        between("mode", 0, 1),
        between("time_signature", 0, 7),
        between("duration_ms", 0, low_open=True),
        any_of(FEATURE_COLUMNS, "audio feature"),
    ),
    "related_artists": (between("rank", 1), between("distance", 0)),
}


@dataclass(frozen=True)
class Reference:
    """`column` of a dataset must hold a `key` of a row of `parent` (same dt)."""

    column: str
    parent: str
    key: str


#: The referential rules, written once: validation (`validate_datasets`), the contracts and
#: the Dagster `contract` checks all read this table. A dataset is validated after the
#: datasets it points at (the order of this dict is such an order).
REFERENCES: dict[str, tuple[Reference, ...]] = {
    "artists": (),
    "tracks": (Reference("artist_id", "artists", "artist_id"),),
    "top_tracks": (
        Reference("artist_id", "artists", "artist_id"),
        Reference("track_id", "tracks", "track_id"),
    ),
    "audio_features": (Reference("track_id", "tracks", "track_id"),),
    "related_artists": (
        Reference("artist_id", "artists", "artist_id"),
        Reference("related_artist_id", "artists", "artist_id"),
    ),
}


def contract(dataset: str, *, id_pattern: str | None = SPOTIFY_ID) -> Contract:
    """The standard contract of `dataset`; `id_pattern` is the id format its id columns must
    match (RE2 syntax; a dump source may carry other ids), None to accept any id."""
    ds = _DATASETS.get(dataset)
    if ds is None:
        raise ValueError(f"no contract for dataset {dataset!r}; contracts: {', '.join(_DATASETS)}")
    rules = [required(f.name) for f in ds.schema if not f.nullable]
    if id_pattern is not None:
        rules += [matches(column, id_pattern) for column in _ID_COLUMNS[dataset]]
    else:
        rules += [clean_id(column) for column in _ID_COLUMNS[dataset]]
    rules += [at_most(column, n) for column, n in MAX_LENGTHS[dataset].items()]
    references = (known(r.column, r.parent) for r in REFERENCES[dataset])
    return Contract(ds, (*rules, *_RANGES[dataset], *references))


CONTRACTS: dict[str, Contract] = {name: contract(name) for name in _DATASETS}


# Validation ------------------------------------------------------------------------------


def validate(
    dataset: str | Contract,
    rows: pa.Table | Sequence[Mapping[str, Any]],
    *,
    references: References | None = None,
    quarantined: Mapping[str, Mapping[str, str]] | None = None,
) -> Validated:
    """Split `rows` by the dataset's contract (a name of CONTRACTS, or a Contract).

    A row is rejected when a value cannot be cast to the schema's type, a required column is
    absent from the input, a rule fails, or (among rows passing everything else) an earlier
    row has the same key: the first one is kept; or the source rejected it already (a
    REJECTED column saying why).

    `references` maps a column to the ids its values must be among, e.g. for top_tracks
    `{"artist_id": known_artists, "track_id": known_tracks}`; a reference rule whose column
    is not given is skipped, and a column that no rule of the contract checks is an error.
    `quarantined` maps such a column to the ids its parent rows were quarantined for, with
    their reasons: a row pointing at one is quarantined with "<parent> quarantined: <reason>"
    rather than as pointing at nothing.
    """
    spec = _contract(dataset)
    schema = spec.dataset.schema
    known_ids = _known_ids(spec, references or {})
    given, n = _given(rows, schema)
    table, unreadable, failures = _typed(given, n, schema)
    if REJECTED in given.column_names:
        failures.append((given[REJECTED], pc.is_valid(given[REJECTED])))

    for rule in spec.rules:
        if any(c not in given.column_names for c in rule.columns):
            continue
        if rule.reference is not None and rule.reference not in known_ids:
            continue
        failed = pc.invert(pc.fill_null(rule.check(table, known_ids), True))
        # a value that cannot be read is reported once, as such, not again by each rule
        for column in rule.columns:
            if column in unreadable:
                failed = pc.and_(failed, pc.invert(unreadable[column]))
        reason: str | Mask = rule.reason
        if quarantined and rule.reference is not None and rule.reference in quarantined:
            reason = _parent_reasons(table[rule.reference], rule, quarantined[rule.reference])
        failures.append((reason, failed))

    ok = _none_of([mask for _, mask in failures], n)
    duplicate = _later_duplicates(table, spec.dataset.key, ok)
    failures.append(("duplicate key", duplicate))
    ok = pc.and_(ok, pc.invert(duplicate))

    rejected = pc.invert(ok)
    kept = given.drop_columns([c for c in given.column_names if c == REJECTED])
    return Validated(
        valid=table.filter(ok).cast(schema),
        rejected=pa.Table.from_arrays(
            [*(pc.filter(c, rejected) for c in kept.columns), _reasons(failures, rejected)],
            names=[*kept.column_names, "reason"],
        ),
    )


def validate_datasets(
    rows: Mapping[str, pa.Table | Sequence[Mapping[str, Any]]],
    contract_of: Callable[[str], Contract] = lambda name: CONTRACTS[name],
) -> dict[str, Validated]:
    """Validate several datasets of one dt against each other, parents first (REFERENCES):
    a row must point at a valid row of its parent dataset, and a row whose parent was
    quarantined is quarantined with that reason. Datasets absent from `rows` are neither
    validated nor checked against."""
    results: dict[str, Validated] = {}
    for name, references in REFERENCES.items():
        if name not in rows:
            continue
        known_ids: dict[str, pa.Array | pa.ChunkedArray] = {}
        quarantined: dict[str, dict[str, str]] = {}
        for ref in references:
            parent = results.get(ref.parent)
            if parent is None:
                continue
            known_ids[ref.column] = parent.valid[ref.key]
            quarantined[ref.column] = quarantined_ids(parent, ref.key)
        results[name] = validate(
            contract_of(name), rows[name], references=known_ids, quarantined=quarantined
        )
    return results


def check_reject_fraction(results: Mapping[str, Validated], max_fraction: float) -> None:
    """Raise TooManyRejects when some dataset rejected more than `max_fraction` of its rows."""
    if not 0 <= max_fraction <= 1:
        raise ValueError(f"max_fraction must be between 0 and 1, got {max_fraction}")
    over = {
        name: (result.counts["quarantined"], result.counts["in"])
        for name, result in results.items()
        if result.counts["quarantined"] > max_fraction * result.counts["in"]
    }
    if not over:
        return
    parts = [
        f"{name} rejected {rejected} of {total} rows ({rejected / total:.1%}; most common "
        f"reason: {_top_reason(results[name].rejected)})"
        for name, (rejected, total) in over.items()
    ]
    raise TooManyRejects(
        f"too many rejected rows, more than the {max_fraction:.1%} allowed: {'; '.join(parts)}; "
        "the rows are in the quarantine: fix the input, or raise TUNELAKE_MAX_REJECT_FRACTION",
        over,
        max_fraction,
    )


def _contract(dataset: str | Contract) -> Contract:
    if isinstance(dataset, Contract):
        return dataset
    # contract() explains an unknown name
    return CONTRACTS[dataset] if dataset in CONTRACTS else contract(dataset)


def _given(rows: pa.Table | Sequence[Mapping[str, Any]], schema: pa.Schema) -> tuple[pa.Table, int]:
    """The input's columns that the schema names (and SOURCE_ROW, REJECTED), as given, and
    the number of rows."""
    wanted = [*schema.names, SOURCE_ROW, REJECTED]
    if isinstance(rows, pa.Table):
        return rows.select([c for c in wanted if c in rows.column_names]), rows.num_rows
    if isinstance(rows, str | bytes) or not isinstance(rows, Sequence):
        raise TypeError(
            f"rows must be a pyarrow.Table or a list of dicts, not {type(rows).__name__}"
        )
    # the exact dict check first: the Mapping ABC check is slow on 100,000 rows
    strays = {type(r).__name__ for r in rows if not isinstance(r, dict | Mapping)}
    if strays:
        raise TypeError(f"rows must be a list of dicts; found {', '.join(sorted(strays))}")
    if not rows:
        return pa.table({}), 0
    try:
        # inferred, not converted to the schema's types: that conversion truncates 1.5 to an
        # int and splits a string into a list of characters instead of failing
        records = pa.Table.from_struct_array(pa.array(rows))
    except _CAST_ERRORS:  # some column mixes types: infer each column apart
        present = set().union(*rows)
        names = [c for c in wanted if c in present]
        arrays = [_array([r.get(name) for r in rows]) for name in names]
        return pa.Table.from_arrays(arrays, names=names), len(rows)
    return records.select([c for c in wanted if c in records.column_names]), len(rows)


def _typed(
    given: pa.Table, n: int, schema: pa.Schema
) -> tuple[pa.Table, dict[str, Mask], list[Failure]]:
    """The given columns cast to the schema (absent ones all null), where a value could not
    be read, and the failures found so far: unreadable values and missing required columns."""
    columns: list[Mask] = []
    unreadable: dict[str, Mask] = {}
    failures: list[Failure] = []
    for field in schema:
        if field.name not in given.column_names:
            columns.append(pa.nulls(n, field.type))
            if not field.nullable:
                failures.append((f"missing column {field.name}", pa.repeat(True, n)))
            continue
        typed, bad = _cast(given[field.name], field.type)
        columns.append(typed)
        if pc.any(bad).as_py():
            unreadable[field.name] = bad
            failures.append((f"{field.name} cannot be read as {field.type}", bad))
    return pa.Table.from_arrays(columns, schema=_nullable(schema)), unreadable, failures


def _array(values: list[Any]) -> pa.Array:
    """Python values as pyarrow infers them, or as text when they mix types (numbers and
    booleans read back from text; a list does not, so a column mixing lists with other
    values is unreadable as a whole)."""
    try:
        return pa.array(values)
    except _CAST_ERRORS:
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _cast(values: pa.ChunkedArray, target: pa.DataType) -> tuple[Mask, Mask]:
    """The values cast to target, with null where a value cannot be; and where that is."""
    try:
        typed = values.cast(target)
    except _CAST_ERRORS:
        typed = _cast_each(values, target)
    return typed, pc.and_(pc.is_valid(values), pc.is_null(typed))


def _cast_each(values: Mask, target: pa.DataType) -> Mask:
    """A cast that nulls the values it cannot represent instead of failing the column."""
    numeric = pa.types.is_integer(target) or pa.types.is_floating(target)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        if not (numeric or pa.types.is_boolean(target)):
            return pa.nulls(len(values), target)
        text = pc.utf8_trim_whitespace(values)
        pattern = _NUMBER if numeric else _BOOLEAN
        text = pc.if_else(pc.match_substring_regex(text, pattern, ignore_case=True), text, None)
        values = text.cast(pa.float64() if numeric else target)
        if values.type == target:
            return values
    if numeric and (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        # an unsafe cast wraps or truncates; a value that survives the round trip was exact
        approx = values.cast(target, safe=False)
        exact = pc.equal(approx.cast(values.type, safe=False), values)
        return pc.if_else(exact, approx, None)
    return pa.nulls(len(values), target)


def _nullable(schema: pa.Schema) -> pa.Schema:
    """The schema without not-null constraints: rows are typed before they are judged."""
    return pa.schema([f.with_nullable(True) for f in schema])


def _known_ids(spec: Contract, references: References) -> dict[str, pa.Array]:
    checked = {rule.reference for rule in spec.rules if rule.reference is not None}
    stray = sorted(set(references) - checked)
    if stray:
        raise ValueError(
            f"{spec.dataset.name} has no reference rule for {', '.join(stray)}; references "
            f"can be given for: {', '.join(sorted(checked)) or 'nothing'}"
        )
    return {column: _value_set(ids) for column, ids in references.items()}


def _value_set(ids: set[str] | frozenset[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if isinstance(ids, pa.Array):
        return ids.cast(pa.string())
    return pa.array(list(ids), pa.string())


def quarantined_ids(result: Validated, key: str) -> dict[str, str]:
    """The ids of the quarantined rows that no valid row has (a duplicate's id stays valid),
    with the first such row's reason."""
    if key not in result.rejected.column_names:
        return {}
    valid = set(result.valid[key].to_pylist())
    reasons: dict[str, str] = {}
    for value, reason in zip(
        result.rejected[key].to_pylist(), result.rejected["reason"].to_pylist(), strict=True
    ):
        if isinstance(value, str) and value not in valid:
            reasons.setdefault(value, reason)
    return reasons


def _parent_reasons(values: Mask, rule: Rule, reasons: Mapping[str, str]) -> Mask:
    """Per row: why its parent was quarantined, or the rule's own reason (no such parent)."""
    noun = (rule.parent or "parent").removesuffix("s")
    ids = pa.array(list(reasons), pa.string())
    texts = pa.array([f"{noun} quarantined: {r}" for r in reasons.values()], pa.string())
    found = pc.take(texts, pc.index_in(values.cast(pa.string()), value_set=ids))
    return pc.fill_null(found, rule.reason)


def _none_of(masks: list[Mask], n: int) -> Mask:
    if not masks:
        return pa.repeat(True, n)
    return pc.invert(reduce(pc.or_, masks))


def _later_duplicates(table: pa.Table, key: tuple[str, ...], ok: Mask) -> Mask:
    """Rows passing so far whose key an earlier passing row has: the first one is kept."""
    row = pa.array(np.arange(table.num_rows, dtype=np.int64))
    candidates = table.select(list(key)).append_column("__row", row).filter(ok)
    first = candidates.group_by(list(key), use_threads=False).aggregate([("__row", "min")])
    return pc.and_(ok, pc.invert(pc.is_in(row, value_set=first["__row_min"])))


def _reasons(failures: list[Failure], rejected: Mask) -> Mask:
    """Each rejected row's failed reasons joined by "; ".

    Only rejected rows go in: every one has a reason, and pyarrow's join with
    null_handling="skip" drops (rather than empties) a row whose inputs are all null.
    """
    parts = [pc.filter(pc.if_else(mask, reason, None), rejected) for reason, mask in failures]
    return pc.binary_join_element_wise(*parts, "; ", null_handling="skip")


def _top_reason(rejected: pa.Table) -> str:
    counts = pc.value_counts(rejected["reason"])
    best = counts[pc.index(counts.field("counts"), pc.max(counts.field("counts"))).as_py()]
    count = best["counts"].as_py()
    return f"{best['values'].as_py()} ({count} row{'' if count == 1 else 's'})"
