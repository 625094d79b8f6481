"""`python -m tunelake` is the `tunelake` command."""

from tunelake.cli import app

app()
