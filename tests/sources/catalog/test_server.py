"""The catalog server's behaviour over HTTP: answers match the catalog, paging, auth, limits."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tunelake.sources.catalog.model import Catalog
from tunelake.sources.catalog.options import CatalogOptions
from tunelake.sources.catalog.payloads import RECCOBEATS_FEATURES
from tunelake.sources.catalog.server import RunningCatalog, serve_in_process, serve_in_thread

from .support import client_for, get_token


def follow(
    client: httpx.Client, path: str, params: dict[str, Any], key: str | None = None
) -> list[Any]:
    """Every item of a paged answer, following `next` links to the end."""
    items: list[Any] = []
    url: str | None = path
    while url is not None:
        response = client.get(url, params=params if url == path else None)
        assert response.status_code == 200, response.text
        page = response.json()[key] if key else response.json()
        assert page["offset"] == len(items)
        items += page["items"]
        url = page["next"]
    assert len(items) == page["total"]
    return items


def busiest_artist(catalog: Catalog) -> str:
    return max(catalog.artist_ids(), key=lambda a: (len(catalog.album_ids(a)), a))


def test_artist_albums_pages_hold_every_album_once(
    extended: RunningCatalog, api: httpx.Client
) -> None:
    catalog = extended.catalog
    artist = busiest_artist(catalog)
    items = follow(api, f"/artists/{artist}/albums", {"limit": 2})
    assert [i["id"] for i in items] == catalog.album_ids(artist)
    assert len({i["id"] for i in items}) == len(items) >= 5
    own = follow(api, f"/artists/{artist}/albums", {"limit": 3, "include_groups": "album,single"})
    assert {i["album_group"] for i in own} <= {"album", "single"}
    assert [i["id"] for i in own] == catalog.album_ids(artist, ("album", "single"))


def test_appears_on_lists_albums_the_artist_is_featured_on(
    extended: RunningCatalog, api: httpx.Client
) -> None:
    catalog = extended.catalog
    featured = next(a for a in catalog.artist_ids() if catalog.album_ids(a, ("appears_on",)))
    items = follow(api, f"/artists/{featured}/albums", {"include_groups": "appears_on"})
    assert items
    for album in items:
        assert album["album_group"] == "appears_on"
        assert album["artists"][0]["id"] != featured
        tracks = follow(api, f"/albums/{album['id']}/tracks", {"limit": 50})
        assert any(featured in [a["id"] for a in t["artists"]] for t in tracks)


def test_album_tracks_pages_follow_the_catalog(extended: RunningCatalog, api: httpx.Client) -> None:
    catalog = extended.catalog
    album_id = max(
        catalog.album_ids(busiest_artist(catalog)), key=lambda j: catalog.album(j).total_tracks
    )
    items = follow(api, f"/albums/{album_id}/tracks", {"limit": 3})
    assert [t["id"] for t in items] == list(catalog.album(album_id).track_ids)
    assert [t["track_number"] for t in items if t["disc_number"] == 1][:3] == [1, 2, 3]


def test_search_pages_put_exact_names_first(extended: RunningCatalog, api: httpx.Client) -> None:
    catalog = extended.catalog
    items = follow(api, "/search", {"q": "the", "type": "artist", "limit": 7}, key="artists")
    assert [i["id"] for i in items] == catalog.search("the")
    name = catalog.artist_names()[10]
    first = api.get("/search", params={"q": f'artist:"{name.upper()}"', "type": "artist"}).json()
    assert first["artists"]["items"][0]["name"] == name


def test_shared_names_come_back_together(extended: RunningCatalog, api: httpx.Client) -> None:
    catalog = extended.catalog
    names = catalog.artist_names()
    shared = next(n for n in names if names.count(n) > 1)
    found = api.get("/search", params={"q": shared, "type": "artist"}).json()["artists"]["items"]
    exact = [a["id"] for a in found if a["name"] == shared]
    assert exact == catalog.find_artists(shared)
    assert len(exact) == names.count(shared)


def test_lookups_answer_what_the_catalog_holds(extended: RunningCatalog, api: httpx.Client) -> None:
    catalog = extended.catalog
    artist = busiest_artist(catalog)
    body = api.get(f"/artists/{artist}").json()
    record = catalog.artist(artist)
    assert (
        body["name"],
        body["popularity"],
        body["followers"]["total"],
        tuple(body["genres"]),
    ) == (
        record.name,
        record.popularity,
        record.followers,
        record.genres,
    )
    top = api.get(f"/artists/{artist}/top-tracks", params={"country": "US"}).json()["tracks"]
    assert [t["id"] for t in top] == catalog.top_tracks(artist)
    track = catalog.track(top[0]["id"])
    assert top[0]["external_ids"]["isrc"] == track.isrc
    assert top[0]["album"]["release_date"] == track.release_date
    related = api.get(f"/artists/{artist}/related-artists").json()["artists"]
    assert [a["id"] for a in related] == catalog.related_artists(artist)
    features = api.get(f"/audio-features/{top[0]['id']}").json()
    expected = catalog.audio_features(top[0]["id"])
    assert expected is not None
    assert features["tempo"] == expected.tempo


def test_several_ids_answer_null_for_unknown_ids(
    extended: RunningCatalog, api: httpx.Client
) -> None:
    catalog = extended.catalog
    unknown = "0" * 22
    artists = api.get("/artists", params={"ids": f"{catalog.artist_ids()[0]},{unknown}"}).json()
    assert artists["artists"][0]["id"] == catalog.artist_ids()[0]
    assert artists["artists"][1] is None
    no_features = catalog.track_id(int((~catalog.tracks.has_features).nonzero()[0][0]))
    with_features = catalog.track_id(int(catalog.tracks.has_features.nonzero()[0][0]))
    answer = api.get("/audio-features", params={"ids": f"{with_features},{no_features},{unknown}"})
    assert [f and f["id"] for f in answer.json()["audio_features"]] == [with_features, None, None]
    assert api.get(f"/audio-features/{no_features}").status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/artists/abc", {}, 400, "invalid id"),
        ("/artists/" + "0" * 22, {}, 404, "Resource not found"),
        (
            "/artists",
            {"ids": ",".join(["0" * 22] * 51)},
            400,
            "Too many ids requested (at most 50)",
        ),
        ("/artists", {}, 400, "Missing required parameter: ids"),
        ("/albums", {"ids": ",".join(["0" * 22] * 21)}, 400, "Too many ids requested (at most 20)"),
        (
            "/audio-features",
            {"ids": ",".join(["0" * 22] * 101)},
            400,
            "Too many ids requested (at most 100)",
        ),
        ("/tracks", {"ids": "0" * 22 + ",bad"}, 400, "invalid id"),
        ("/search", {"type": "artist"}, 400, "No search query"),
        ("/search", {"q": "a"}, 400, "Missing parameter type"),
        (
            "/search",
            {"q": "a", "type": "track"},
            400,
            "Unsupported search type track: this catalog searches type=artist",
        ),
        ("/search", {"q": "a", "type": "artist", "limit": "51"}, 400, "Invalid limit"),
        ("/search", {"q": "a", "type": "artist", "limit": "ten"}, 400, "Invalid limit"),
        (
            "/search",
            {"q": "a", "type": "artist", "offset": "990", "limit": "20"},
            400,
            "Invalid offset",
        ),
        ("/nowhere", {}, 404, "Service not found"),
    ],
)
def test_bad_requests_get_clear_errors(
    api: httpx.Client, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == status
    assert response.json() == {"error": {"status": status, "message": message}}


def test_artist_scoped_parameters_are_checked(extended: RunningCatalog, api: httpx.Client) -> None:
    artist = extended.catalog.artist_ids()[0]
    bad_group = api.get(f"/artists/{artist}/albums", params={"include_groups": "album,live"})
    assert bad_group.json()["error"]["message"] == "Invalid include_groups value: live"
    bad_market = api.get(f"/artists/{artist}/top-tracks", params={"market": "usa"})
    assert bad_market.json()["error"] == {"status": 400, "message": "Invalid market code"}


def test_development_profile_limits_search_pages(
    development: RunningCatalog, dev_api: httpx.Client
) -> None:
    big = dev_api.get("/search", params={"q": "the", "type": "artist", "limit": "11"})
    assert big.status_code == 400
    assert big.json()["error"]["message"] == "Invalid limit"
    page = dev_api.get("/search", params={"q": "the", "type": "artist", "limit": "10"}).json()[
        "artists"
    ]
    assert len(page["items"]) == 10
    assert page["next"] is not None


def test_reccobeats_features_match_spotify(extended: RunningCatalog, api: httpx.Client) -> None:
    catalog = extended.catalog
    tracks = catalog.top_tracks(busiest_artist(catalog))[:3]
    unknown = "0" * 22
    answer = httpx.get(
        f"{extended.reccobeats_url}/audio-features", params={"ids": ",".join([*tracks, unknown])}
    )
    assert answer.status_code == 200  # no token needed
    content = answer.json()["content"]
    assert [c["href"] for c in content] == [f"https://open.spotify.com/track/{t}" for t in tracks]
    assert [c["id"] for c in content] == [catalog.reccobeats_id(t) for t in tracks]
    spotify = api.get("/audio-features", params={"ids": ",".join(tracks)}).json()["audio_features"]
    for ours, theirs in zip(content, spotify, strict=True):
        assert set(ours) == {"id", "href", *RECCOBEATS_FEATURES}
        assert all(ours[name] == theirs[name] for name in RECCOBEATS_FEATURES)
    too_many = httpx.get(
        f"{extended.reccobeats_url}/audio-features", params={"ids": ",".join([unknown] * 41)}
    )
    assert too_many.status_code == 400


def test_reccobeats_answers_in_development_mode(development: RunningCatalog) -> None:
    track = development.catalog.top_tracks(busiest_artist(development.catalog))[0]
    answer = httpx.get(f"{development.reccobeats_url}/audio-features", params={"ids": track})
    assert [c["href"].rsplit("/", 1)[1] for c in answer.json()["content"]] == [track]


def test_tokens_from_basic_auth_or_form_body(extended: RunningCatalog) -> None:
    url = f"{extended.accounts_url}/api/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": "tunelake",
        "client_secret": "tunelake-secret",
    }
    assert httpx.post(url, data=form).status_code == 200
    wrong = httpx.post(url, data={**form, "client_secret": "nope"})
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"error": "invalid_client", "error_description": "Invalid client"},
    )
    no_grant = httpx.post(url, data={"client_id": "tunelake", "client_secret": "tunelake-secret"})
    assert no_grant.status_code == 400
    assert no_grant.json()["error"] == "unsupported_grant_type"


def test_missing_or_unknown_token_is_401(extended: RunningCatalog) -> None:
    artist = extended.catalog.artist_ids()[0]
    none = httpx.get(f"{extended.api_url}/artists/{artist}")
    assert (none.status_code, none.json()["error"]["message"]) == (401, "No token provided")
    unknown = httpx.get(
        f"{extended.api_url}/artists/{artist}", headers={"Authorization": "Bearer x"}
    )
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        401,
        "Invalid access token",
    )
    assert unknown.headers["www-authenticate"] == (
        'Bearer realm="spotify", error="invalid_token", error_description="Invalid access token"'
    )
    assert none.headers["www-authenticate"] == 'Bearer realm="spotify"'


def test_tokens_expire_after_their_ttl() -> None:
    with serve_in_thread(CatalogOptions(n_artists=20, token_ttl=1)) as server:
        token = get_token(server)
        assert (
            httpx.post(
                f"{server.accounts_url}/api/token",
                data={"grant_type": "client_credentials"},
                auth=("tunelake", "tunelake-secret"),
            ).json()["expires_in"]
            == 1
        )
        url = f"{server.api_url}/artists/{server.catalog.artist_ids()[0]}"
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url, headers=headers).status_code == 200
        time.sleep(1.1)
        expired = httpx.get(url, headers=headers)
    assert expired.status_code == 401
    assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}
    assert expired.headers["www-authenticate"] == (
        'Bearer realm="spotify", error="invalid_token", error_description="The access token expired"'
    )


def test_rate_limit_answers_429_with_retry_after() -> None:
    with serve_in_thread(CatalogOptions(n_artists=20, rate_limit=3, rate_window=30)) as server:
        with client_for(server) as client:
            url = f"/artists/{server.catalog.artist_ids()[0]}"
            statuses = [client.get(url).status_code for _ in range(3)]
            limited = client.get(url)
            tokens = [get_token(server) for _ in range(5)]  # the token endpoint is not limited
            track = server.catalog.top_tracks(server.catalog.artist_ids()[0])[0]
            recco = httpx.get(f"{server.reccobeats_url}/audio-features", params={"ids": track})
        stats = server.stats
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 30
    assert limited.json()["error"]["status"] == 429
    assert len(set(tokens)) == 5
    assert recco.status_code == 200  # ReccoBeats has its own window
    assert stats.count("artist", 429) == 1
    assert stats.count("artist", 200) == 3


def test_stats_count_by_kind_and_status_and_reset(
    extended: RunningCatalog, api: httpx.Client
) -> None:
    extended.reset()
    artist = extended.catalog.artist_ids()[0]
    api.get(f"/artists/{artist}")
    api.get("/artists/abc")
    over_http = httpx.get(f"{extended.base_url}/_admin/stats").json()
    assert over_http["requests"]["artist"] == {"200": 1, "400": 1}
    assert over_http["api_requests"] == extended.stats.api_requests == 2
    assert httpx.post(f"{extended.base_url}/_admin/reset").status_code == 204
    assert extended.stats.count("artist") == 0


def test_secrets_stay_out_of_reprs(extended: RunningCatalog) -> None:
    assert "tunelake-secret" not in repr(extended)
    assert "tunelake-secret" not in repr(extended.options)


def test_serves_from_a_child_process() -> None:
    options = CatalogOptions(n_artists=50)
    with serve_in_process(options) as server:
        with client_for(server) as client:
            artist = server.catalog.artist_ids()[3]
            assert (
                client.get(f"/artists/{artist}").json()["name"] == server.catalog.artist_names()[3]
            )
        assert server.stats.count("artist", 200) == 1
        server.reset()
        assert server.stats.api_requests == 0
        url = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_admin/stats")


def test_a_taken_port_is_a_clear_error(extended: RunningCatalog) -> None:
    with (
        pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{extended.port}"),
        serve_in_thread(CatalogOptions(n_artists=5), port=extended.port),
    ):
        pass
