"""Links that leave the machine: chatbot cards are opened on a phone, so they name the
service as the outside world reaches it (`TUNELAKE_PUBLIC_BASE_URL`), not the address it
binds; and an image that cannot load is replaced by the service's own placeholder."""

from __future__ import annotations

from importlib.resources import files

from tunelake.config import Settings

PLACEHOLDER_PATH = "/images/artist.png"
PLACEHOLDER_PNG = files("tunelake").joinpath("templates/artist.png").read_bytes()


def base_url(settings: Settings, request_base: str) -> str:
    """The service's base URL, ending in "/": the public one when configured."""
    return (settings.public_base_url or request_base).rstrip("/") + "/"


def image_url(settings: Settings, url: str | None, base: str) -> str:
    """An artist image a client can load. The built-in catalog (source `catalog`) makes its
    image URLs up: they name no image that exists, so its artists get the placeholder."""
    if url and settings.source != "catalog":
        return url
    return base.rstrip("/") + PLACEHOLDER_PATH
