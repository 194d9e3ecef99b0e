"""Where workspace files live: object stores opened through fsspec."""

from sparkstudio.storage.stores import ALLOWED_SCHEMES, Entry, Store, list_roots, open_store, purge

__all__ = ["ALLOWED_SCHEMES", "Entry", "Store", "list_roots", "open_store", "purge"]
