"""The S3 store: an s3fs filesystem, checked once when opened."""

from __future__ import annotations

import botocore.exceptions
import s3fs

from tunelake.storage.lake.options import S3Options
from tunelake.storage.lake.port import LakeError, LakeUnavailable
from tunelake.storage.lake.store import S3_SCHEME, Store


def s3_store(url: str, options: S3Options, namespace: str) -> Store:
    root = url.removeprefix(S3_SCHEME).strip("/")
    bucket = root.split("/", 1)[0]
    if not bucket:
        raise LakeError(f"lake URL {url!r} names no bucket: use s3://bucket/prefix")
    key = options.access_key_id
    secret = options.secret_access_key
    fs = s3fs.S3FileSystem(
        key=key.get_secret_value() if key else None,
        secret=secret.get_secret_value() if secret else None,
        endpoint_url=options.endpoint_url,
        client_kwargs={"region_name": options.region},
        # s3fs itself retries dropped connections 5 times with backoff; botocore's standard
        # mode adds a retry of throttling and 5xx answers.
        config_kwargs={"connect_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}},
        # Listings must be fresh: partitions and raw files are found by listing. (fsspec
        # shares one instance among lakes with the same arguments, which saves the costly
        # client start-up; with no listings cache there is no state to share.)
        use_listings_cache=False,
    )
    store = Store(fs, root, S3_SCHEME + root, namespace)
    _probe(store, bucket, options.where())
    return store


def _probe(store: Store, bucket: str, where: str) -> None:
    """Fail at open, with the fix, rather than at the first write of a run."""
    try:
        store.fs.info(bucket)
    except FileNotFoundError as exc:
        raise LakeUnavailable(
            f"lake {store.url}: bucket {bucket!r} does not exist at {where}; create it "
            "(`tunelake services up` does for the local SeaweedFS) or fix the lake URL"
        ) from exc
    except PermissionError as exc:
        raise LakeUnavailable(
            f"lake {store.url}: {where} refused the credentials ({exc}); check "
            "TUNELAKE_S3_ACCESS_KEY_ID and TUNELAKE_S3_SECRET_ACCESS_KEY"
        ) from exc
    except (OSError, botocore.exceptions.BotoCoreError) as exc:
        raise LakeUnavailable(
            f"lake {store.url}: cannot reach {where} ({exc}); check "
            "TUNELAKE_S3_ENDPOINT_URL and that the server runs (`tunelake services up`)"
        ) from exc
