"""The Jinja2 templates the run report and the dashboard share (`tunelake/templates/`).

Autoescape is on for every template: a value from the data (an artist or genre name, an
error, a URL) is escaped wherever it lands. Only the charts go in unescaped, as `Markup`:
they are SVG that matplotlib wrote, with the data's text escaped by it.
"""

from __future__ import annotations

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
