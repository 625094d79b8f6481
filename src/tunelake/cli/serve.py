"""`tunelake serve` (the API, dashboard and chatbot) and `tunelake orchestrate` (Dagster)."""

from __future__ import annotations

from typing import Annotated

import typer

from tunelake.cli.common import Home, ProfileOpt, errors, out, settings_for


def serve(
    home: Home = None,
    profile: ProfileOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one")] = 8080,
) -> None:
    """Serve the API, the dashboard (/) and the chatbot skill (/chat/kakao) over the stores."""
    from tunelake.service.api import serve as serve_app

    settings = settings_for(home, profile, reads_only=True)

    def ready(base_url: str) -> None:
        out.print(
            f"tunelake serving on {base_url} (dashboard {base_url}/, API {base_url}/openapi.json)",
            soft_wrap=True,
            highlight=False,
        )

    with errors():
        serve_app(settings, host=host, port=port, on_ready=ready)


def orchestrate(
    home: Home = None,
    profile: ProfileOpt = None,
    port: Annotated[int, typer.Option(help="webserver port on 127.0.0.1 (0: a free one)")] = 3000,
) -> None:
    """Run the pipeline on Dagster: its webserver and daemon (schedule, sensors) until Ctrl-C."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.orchestration.server import orchestrate as serve  # the orchestrate extra

        code = serve(settings, port, lambda url: out.print(f"Dagster: {url}", highlight=False))
    raise typer.Exit(code)
