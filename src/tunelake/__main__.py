"""`python -m tunelake` is the `tunelake` command."""

from tunelake.cli import app

if __name__ == "__main__":  # the catalog server's child process imports this module too
    app()
