"""Every answer of the catalog server has the shape of Spotify's recorded answers.

The comparator walks the server's JSON against a template merged from the recordings of that
endpoint (tests/fixtures/spotify): the same keys at every depth, the same JSON types. Allowed
differences, each for a documented reason:
- fields Spotify added to artist and album objects after some of the 2014-2017 recordings;
- null where Spotify sends null for "none" (preview_url, next, previous, followers.href);
- an int where the recording has a float, and back, for audio-feature numbers (Spotify itself
  sends `"instrumentalness": 0`);
- in the development profile, the fields the 2026 development mode removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fixtures import SPOTIFY
from tunelake.sources.catalog.model import Catalog
from tunelake.sources.catalog.options import CatalogOptions
from tunelake.sources.catalog.server import RunningCatalog, serve_in_thread

from .support import get_token

FIXTURES = SPOTIFY
#: Fields added to an object type after some recordings were made (artist followers in late
#: 2014; album dates, track counts, artists and album_group since).
LATER_FIELDS = {
    "album": {"album_group", "artists", "release_date", "release_date_precision", "total_tracks"},
    "artist": {"followers"},
}
NULLABLE = {"preview_url", "next", "previous", "href"}
FEATURE_NUMBERS = {"acousticness", "danceability", "energy", "instrumentalness", "liveness",
                   "loudness", "speechiness", "tempo", "valence"}  # fmt: skip
REMOVED_IN_DEVELOPMENT = {"popularity", "followers", "genres"}


@dataclass
class Shape:
    types: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    item: Shape | None = None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "array", dict: "object"}[type(value)]


def add(shape: Shape, value: Any) -> Shape:
    """Merge `value` into `shape`: the union of keys and types over every sample."""
    shape.types.add(json_type(value))
    if isinstance(value, dict):
        for key, child in value.items():
            add(shape.keys.setdefault(key, Shape()), child)
    elif isinstance(value, list):
        for child in value:
            shape.item = add(shape.item or Shape(), child)
    return shape


def template(samples: Iterable[Any]) -> Shape:
    shape = Shape()
    for sample in samples:
        add(shape, sample)
    return shape


def compatible(actual: str, expected: set[str], key: str) -> bool:
    if actual in expected:
        return True
    if key in NULLABLE and (actual == "null" or expected == {"null"}):
        return True
    return (
        key in FEATURE_NUMBERS and actual in ("int", "float") and bool({"int", "float"} & expected)
    )


def differences(
    actual: Any, shape: Shape, path: str = "$", removed: frozenset[str] = frozenset()
) -> list[str]:
    key = path.rsplit(".", 1)[-1].removesuffix("[]")
    kind = json_type(actual)
    if not compatible(kind, shape.types, key):
        return [f"{path}: {kind}, recorded {sorted(shape.types)}"]
    problems: list[str] = []
    if isinstance(actual, dict):
        missing = set(shape.keys) - set(actual) - removed
        extra = set(actual) - set(shape.keys)
        extra -= LATER_FIELDS.get(str(actual.get("type")), set())
        problems += [f"{path}.{k}: missing" for k in sorted(missing)]
        problems += [f"{path}.{k}: not in the recordings" for k in sorted(extra)]
        for k in set(actual) & set(shape.keys):
            problems += differences(actual[k], shape.keys[k], f"{path}.{k}", removed)
    elif isinstance(actual, list) and shape.item is not None:
        for child in actual:
            problems += differences(child, shape.item, f"{path}[]", removed)
    return problems


def recorded(name: str) -> Any:
    path = FIXTURES / f"{name}.json"
    assert path.is_file(), f"the Spotify recordings are expected at {FIXTURES}"
    return json.loads(path.read_text())


def an_artist_with_tracks(catalog: Catalog, skip: int = 0) -> str:
    return [a for a in catalog.artist_ids() if len(catalog.track_ids(a)) > 12][skip]


def several_tracks(catalog: Catalog) -> str:
    return ",".join(catalog.top_tracks(an_artist_with_tracks(catalog))[:3])


# name -> the request answering like that recording: (path under /v1, query)
Request = Callable[[Catalog], tuple[str, dict[str, str]]]
WEB_API: dict[str, Request] = {
    "artist_get": lambda c: (f"/artists/{an_artist_with_tracks(c)}", {}),
    "artist_albums_page": lambda c: (
        f"/artists/{an_artist_with_tracks(c)}/albums",
        {"limit": "2", "include_groups": "album,single,compilation,appears_on"},
    ),
    "search_artist": lambda c: ("/search", {"q": c.artist_names()[0].split()[0], "type": "artist"}),
    "track_get": lambda c: (f"/tracks/{c.top_tracks(an_artist_with_tracks(c))[0]}", {}),
}
EXTENDED_ONLY: dict[str, Request] = {
    "artists_several": lambda c: ("/artists", {"ids": an_artist_with_tracks(c, 1)}),
    "artist_top_tracks": lambda c: (
        f"/artists/{an_artist_with_tracks(c)}/top-tracks",
        {"market": "US"},
    ),
    "artist_related_artists": lambda c: (
        f"/artists/{an_artist_with_tracks(c)}/related-artists",
        {},
    ),
    "audio_features_several": lambda c: ("/audio-features", {"ids": several_tracks(c)}),
    "audio_features_single": lambda c: (
        f"/audio-features/{c.top_tracks(an_artist_with_tracks(c))[0]}",
        {},
    ),
    "tracks_several": lambda c: ("/tracks", {"ids": several_tracks(c)}),
    "albums_several": lambda c: (
        "/albums",
        {"ids": ",".join(c.album_ids(an_artist_with_tracks(c))[:2])},
    ),
}
#: Recordings of the same endpoint, merged into one template.
ALSO = {
    "artist_get": ["artist_get_2"],
    "artists_several": ["artists_several_2"],
    "artist_top_tracks": ["artist_top_tracks_2"],
    "search_artist": ["search_artist_offset10_limit10"],
    "audio_features_several": ["audio_features_several_2"],
}
ERRORS = {
    "error_400_accounts_invalid_client",
    "error_401_expired_token",
    "error_403_webapi",
    "error_429_quota_documented",
    "token_client_credentials",
}


def merged(name: str) -> Shape:
    return template(recorded(n) for n in [name, *ALSO.get(name, [])])


def test_every_recording_is_compared() -> None:
    compared = set(WEB_API) | set(EXTENDED_ONLY) | ERRORS | {n for a in ALSO.values() for n in a}
    assert {p.stem for p in FIXTURES.glob("*.json")} - {"SOURCES"} == compared


@pytest.mark.parametrize("name", sorted({**WEB_API, **EXTENDED_ONLY}))
def test_extended_answers_as_recorded(
    name: str, extended: RunningCatalog, api: httpx.Client
) -> None:
    path, params = {**WEB_API, **EXTENDED_ONLY}[name](extended.catalog)
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert differences(response.json(), merged(name)) == []


@pytest.mark.parametrize("name", sorted(WEB_API))
def test_development_answers_as_recorded_minus_2026_removals(
    name: str, development: RunningCatalog, dev_api: httpx.Client
) -> None:
    path, params = WEB_API[name](development.catalog)
    response = dev_api.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert differences(body, merged(name), removed=frozenset(REMOVED_IN_DEVELOPMENT)) == []
    text = json.dumps(body)
    assert '"followers"' not in text and '"genres"' not in text and '"popularity"' not in text


@pytest.mark.parametrize("name", sorted(EXTENDED_ONLY))
def test_development_forbids_what_2026_removed(
    name: str, development: RunningCatalog, dev_api: httpx.Client
) -> None:
    path, params = EXTENDED_ONLY[name](development.catalog)
    response = dev_api.get(path, params=params)
    assert response.status_code == 403
    assert differences(response.json(), merged("error_403_webapi")) == []


@pytest.mark.parametrize(("server", "client"), [("extended", "api"), ("development", "dev_api")])
def test_album_objects_and_album_tracks_page(
    server: str, client: str, request: pytest.FixtureRequest
) -> None:
    """No recording of these two: the full album and its track page inside albums_several."""
    catalog: Catalog = request.getfixturevalue(server).catalog
    api: httpx.Client = request.getfixturevalue(client)
    album = recorded("albums_several")["albums"][0]
    removed = frozenset(REMOVED_IN_DEVELOPMENT if server == "development" else ())
    album_id = catalog.album_ids(an_artist_with_tracks(catalog))[0]
    single = api.get(f"/albums/{album_id}")
    assert single.status_code == 200
    assert differences(single.json(), template([album]), removed=removed) == []
    tracks = api.get(f"/albums/{album_id}/tracks", params={"limit": "3"})
    assert tracks.status_code == 200
    assert differences(tracks.json(), template([album["tracks"]]), removed=removed) == []


def test_token_and_auth_errors_as_recorded(extended: RunningCatalog) -> None:
    token = httpx.post(
        f"{extended.accounts_url}/api/token",
        data={"grant_type": "client_credentials"},
        auth=("tunelake", "tunelake-secret"),
    )
    assert differences(token.json(), merged("token_client_credentials")) == []
    wrong = httpx.post(
        f"{extended.accounts_url}/api/token",
        data={"grant_type": "client_credentials"},
        auth=("tunelake", "wrong"),
    )
    assert wrong.status_code == 400
    assert differences(wrong.json(), merged("error_400_accounts_invalid_client")) == []
    artist = an_artist_with_tracks(extended.catalog)
    unauthorised = httpx.get(
        f"{extended.api_url}/artists/{artist}", headers={"Authorization": "Bearer nope"}
    )
    assert unauthorised.status_code == 401
    assert differences(unauthorised.json(), merged("error_401_expired_token")) == []


def test_rate_limit_error_as_documented() -> None:
    with serve_in_thread(CatalogOptions(n_artists=20, rate_limit=1, rate_window=60)) as server:
        headers = {"Authorization": f"Bearer {get_token(server)}"}
        artist = server.catalog.artist_ids()[0]
        statuses = [
            httpx.get(f"{server.api_url}/artists/{artist}", headers=headers) for _ in range(2)
        ]
    assert [r.status_code for r in statuses] == [200, 429]
    # the documented quota 429 has a reason; a plain rate-limit 429 has none
    expected = merged("error_429_quota_documented")
    assert differences(statuses[1].json(), expected, removed=frozenset({"reason"})) == []


def test_the_comparator_catches_differences() -> None:
    shape = template([{"a": 1, "b": [{"c": "x"}], "preview_url": "u"}])
    assert differences({"a": 1, "b": [{"c": "y"}], "preview_url": None}, shape) == []
    assert differences({"a": "1", "b": [], "preview_url": "u"}, shape) == [
        "$.a: string, recorded ['int']"
    ]
    assert differences({"a": 1, "b": [{"d": "y"}], "preview_url": "u"}, shape) == [
        "$.b[].c: missing",
        "$.b[].d: not in the recordings",
    ]
    assert differences({"a": 1.5, "b": [], "preview_url": "u"}, shape) == [
        "$.a: float, recorded ['int']"
    ]
