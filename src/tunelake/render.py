"""The Jinja2 templates the run report and the dashboard share (`tunelake/templates/`), and
rows as CSV or JSON (what `tunelake sql` and every table of the CLI print with --format).

Autoescape is on for every template: a value from the data (an artist or genre name, an
error, a URL) is escaped wherever it lands. Only the charts go in unescaped, as `Markup`:
they are SVG that matplotlib wrote, with the data's text escaped by it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tunelake.redact import mask_url


def number(value: Any, template: str = "{:,}") -> str:
    """A number as the tables show it ("1,200", "12.35 s"); anything else as text."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return template.format(value)
    return str(value)


def path_segment(value: Any) -> str:
    """A value quoted as one URL path segment: a `/` or `..` in an id cannot leave it."""
    return quote(str(value), safe="")


def status_class(status: Any) -> str:
    return "status-" + "".join(c for c in str(status or "").lower() if c.isalnum())


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tunelake", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=number, status_class=status_class, mask_url=mask_url, path_segment=path_segment
    )
    env.globals.update(is_number=lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def plain(value: Any) -> Any:
    """A value as JSON holds it: numbers, text, booleans and None as they are, a date or a time
    in ISO 8601, anything else (a Decimal, bytes) as its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _csv_cell(value: Any) -> str:
    # written as the JSON of the same rows writes it, so both formats say the same
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header line, then a line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def unique_names(columns: Sequence[str]) -> list[str]:
    """The names with repeats made visible (name, name_1, …), for formats keyed by name."""
    unique: list[str] = []
    for name in columns:
        candidate, n = name, 0
        while candidate in unique:
            n += 1
            candidate = f"{name}_{n}"
        unique.append(candidate)
    return unique


def json_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A list of objects, one per row, keyed by column name."""
    keys = unique_names(columns)
    records = [dict(zip(keys, row, strict=True)) for row in rows]
    return json.dumps(records, default=plain, ensure_ascii=False, indent=2)
