"""The lake's Iceberg catalog, chosen by URL (`TUNELAKE_LAKE_CATALOG_URL`).

- an SQLAlchemy URL (`sqlite:///…`, `mysql+pymysql://…`, `postgresql+psycopg://…`): pyiceberg's
  SQL catalog, whose tables (`iceberg_tables`, `iceberg_namespace_properties`) are the ones
  Iceberg's Java JDBC catalog uses, so Spark, Trino or Flink can open the same tables;
- `http://…` or `https://…`: a REST catalog;
- `glue://` (optionally `?region=…`): AWS Glue, so that Athena sees the tables at once.

pyiceberg's DynamoDB catalog is refused: it cannot commit (tried on dynalite).

`lake_catalog_properties` adds any other pyiceberg property (a REST token, a Glue catalog id).
The catalog is always named `tunelake`: engines that share an SQL catalog must use that name.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.io import PY_IO_IMPL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random

from tunelake.errors import ConfigError
from tunelake.redact import mask_url
from tunelake.storage.lake import rooted
from tunelake.storage.lake.options import LakeOptions, S3Options
from tunelake.storage.lake.port import CatalogDamaged, LakeError, LakeUnavailable
from tunelake.storage.lake.repair import damaged_catalog_file
from tunelake.storage.lake.rooted import RootedFileIO
from tunelake.storage.warehouse.engine import parse_url

CATALOG_NAME = "tunelake"
SETTING = "TUNELAKE_LAKE_CATALOG_URL"


def catalog_properties(url: str, warehouse: str, options: LakeOptions) -> dict[str, str]:
    """The pyiceberg properties of the catalog at url, whose tables keep their files under
    warehouse (a file:// or s3:// URL)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    props: dict[str, str] = {
        "warehouse": warehouse,
        # Every file through the lake's root, whatever root the catalog recorded (rooted.py).
        PY_IO_IMPL: f"{RootedFileIO.__module__}.{RootedFileIO.__qualname__}",
        rooted.ROOT: warehouse,
        rooted.NAMESPACE: options.namespace,
    }
    if parts.scheme in ("http", "https"):
        props |= {"type": "rest", "uri": url}
    elif parts.scheme == "glue":
        props["type"] = "glue"
        if "region" in query:
            props["glue.region"] = query["region"]
    elif parts.scheme == "dynamodb":
        # Tried on dynalite: pyiceberg 0.12's DynamoDB catalog loads tables, but its
        # commit_table is not implemented, so no overwrite could land.
        raise LakeError(
            f"lake catalog {url}: pyiceberg's DynamoDB catalog cannot commit table changes; "
            "use an SQL (sqlite/mysql/postgresql URL), REST (http://…) or Glue (glue://) catalog"
        )
    else:
        props |= {"type": "sql", "uri": _sql_url(url)}
    if warehouse.startswith("s3://"):
        props |= _s3_properties(options.s3)
    return props | dict(options.catalog_properties)


def _sql_url(url: str) -> str:
    """An SQL catalog's URL with its driver made explicit, checked as the warehouse's is: a
    text that is no URL, a scheme no SQL database answers, is a ConfigError, not a catalog
    server that seems down."""
    try:
        parsed = parse_url(url, SETTING)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; or a REST catalog (http(s)://…) or glue://") from None
    return parsed.render_as_string(hide_password=False)


def _s3_properties(s3: S3Options) -> dict[str, str]:
    props = {"s3.region": s3.region}
    if s3.endpoint_url:
        props["s3.endpoint"] = s3.endpoint_url
    if s3.access_key_id and s3.secret_access_key:
        props["s3.access-key-id"] = s3.access_key_id.get_secret_value()
        props["s3.secret-access-key"] = s3.secret_access_key.get_secret_value()
    return props


def open_catalog(url: str, warehouse: str, options: LakeOptions) -> Catalog:
    """The catalog at url with options' namespace in it, both created if missing, checked at
    once: unreachable raises LakeUnavailable."""
    props = catalog_properties(url, warehouse, options)
    damaged = damaged_catalog_file(url)
    if damaged is not None:
        raise CatalogDamaged(
            f"the lake's catalog file {damaged} is damaged (not a database); run "
            "`tunelake lake repair` (it keeps the file aside and re-registers the tables)"
        )
    # pyiceberg's SQL catalog creates its tables, and the namespace its row, by checking first:
    # of several processes opening a new catalog at once (a Dagster backfill starts its runs
    # so), all but one lose that race with "already exists" or a duplicate key. Once more sees
    # what the winner created.
    retrying = Retrying(
        retry=retry_if_exception(_lost_creation_race),
        stop=stop_after_attempt(3),
        wait=wait_random(0.05, 0.3),
        reraise=True,
    )
    try:
        return retrying(_opened, props, options.namespace)
    except (SQLAlchemyError, OSError, ConnectionError) as exc:
        # The driver's first line says what failed (refused, unknown host, no such file); the
        # URL, which may hold a password, is only ever shown masked.
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fix = (
            "that the folder of its file exists and is writable"
            if url.startswith("sqlite:")
            else "that its server runs"
        )
        raise LakeUnavailable(
            f"lake catalog {mask_url(url)} cannot be reached ({type(exc).__name__}: {cause}); "
            f"check {SETTING} and {fix}"
        ) from None
    except (ValueError, ImportError) as exc:
        raise LakeError(f"lake catalog {mask_url(url)} cannot be used: {exc}") from None


def _opened(props: dict[str, str], namespace: str) -> Catalog:
    catalog = load_catalog(CATALOG_NAME, **props)
    catalog.create_namespace_if_not_exists(namespace)
    return catalog


def _lost_creation_race(exc: BaseException) -> bool:
    return isinstance(exc, IntegrityError) or (
        isinstance(exc, SQLAlchemyError) and "already exists" in str(exc)
    )
