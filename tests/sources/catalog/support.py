"""Helpers shared by the catalog server tests."""

from __future__ import annotations

import httpx

from tunelake.sources.catalog.server import RunningCatalog, RunningCatalogProcess

Server = RunningCatalog | RunningCatalogProcess

ARTISTS = 300


def get_token(server: Server) -> str:
    response = httpx.post(
        f"{server.accounts_url}/api/token",
        data={"grant_type": "client_credentials"},
        auth=(server.options.client_id, server.options.client_secret.get_secret_value()),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def client_for(server: Server) -> httpx.Client:
    """A client of the server's Web API, with a valid token."""
    return httpx.Client(
        base_url=server.api_url, headers={"Authorization": f"Bearer {get_token(server)}"}
    )
