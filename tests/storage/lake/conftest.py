"""The lake contract runs on every backend (see backends.BACKENDS)."""

from tests.storage.lake.backends import lake

__all__ = ["lake"]
