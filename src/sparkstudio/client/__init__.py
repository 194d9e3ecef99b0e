"""Python client of the sparkstudio API.

    from sparkstudio.client import Client

    with Client.login("http://127.0.0.1:8780", "alice", "secret") as client:
        studio = client.studios.get_by_name("analytics")
        client.workspaces.create(studio.id, name="etl", tags={"team": "data"})

Errors are raised as :class:`sparkstudio.errors.StudioError` subclasses (``NotFound``,
``Conflict``, ``Invalid`` …) carrying the server's ``status``, ``reason`` and ``message``.
"""

from sparkstudio.client.client import Client

__all__ = ["Client"]
