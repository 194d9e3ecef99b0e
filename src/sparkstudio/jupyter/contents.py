"""A Jupyter contents manager that keeps a workspace's files in an object store.

Started inside the workspace's jupyter_server::

    --ServerApp.contents_manager_class=sparkstudio.jupyter.contents.StoreContentsManager
    --StoreContentsManager.root_url=s3://bucket/studios/st-1/workspaces/ws-1
    --StoreContentsManager.storage_options='{"client_kwargs": {"endpoint_url": "..."}}'

Kernels still run on local disk (in ``ServerApp.root_dir``); only the files the Contents API
serves live in the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import posixpath
import tempfile
from base64 import decodebytes, encodebytes
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nbformat
from jupyter_server.services.contents.checkpoints import AsyncCheckpoints
from jupyter_server.services.contents.manager import AsyncContentsManager
from tornado.web import HTTPError
from traitlets import Bool, Dict, TraitError, Unicode, default

from sparkstudio.storage.stores import EPOCH, Entry, Store

CHECKPOINT_DIR = ".ipynb_checkpoints"  # beside each file, as jupyter's FileCheckpoints
CHECKPOINT_ID = "checkpoint"  # one checkpoint per file, as FileCheckpoints
HASH_ALGORITHM = "sha256"

Model = dict[str, Any]


def normalize_path(path: str) -> str:
    """The API ``path`` as ``a/b/c`` under the workspace root, or HTTP 400 if it could escape.

    Leading and trailing slashes are the Contents API's convention (handlers pass
    ``/name``), so ``/etc/passwd`` means the workspace's ``etc/passwd``. Tornado has already
    percent-decoded the URL once; the path is checked again as if decoded a second time, so
    ``%2e%2e`` or ``%2f`` cannot turn into ``..`` or ``/`` further down.
    """
    relative = path.strip("/")
    decoded = unquote(relative)
    if relative and (
        _unsafe(relative) or _unsafe(decoded) or decoded.count("/") != relative.count("/")
    ):
        raise HTTPError(400, f"Invalid path: {path!r}")
    return relative


def _unsafe(path: str) -> bool:
    return "\\" in path or "\x00" in path or any(p in ("", ".", "..") for p in path.split("/"))


def _parent(relative: str) -> str:
    return relative.rsplit("/", 1)[0] if "/" in relative else ""


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def _to_bytes(content: Any, format: str | None, relative: str) -> bytes:
    """The bytes of a file model's ``content``, as jupyter's FileContentsManager reads it."""
    if format not in ("text", "base64"):
        raise HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
    try:
        if format == "text":
            return bytes(content.encode("utf-8"))
        return decodebytes(content.encode("ascii"))
    except Exception as e:
        raise HTTPError(400, f"Encoding error saving {relative}: {e}") from e


def _from_bytes(data: bytes, format: str | None, relative: str) -> tuple[str, str]:
    """``(content, format)`` for a file model: UTF-8 text if asked or possible, else base64."""
    if format in (None, "text"):
        try:
            return data.decode("utf-8"), "text"
        except UnicodeError as e:
            if format == "text":
                raise HTTPError(400, f"{relative} is not UTF-8 encoded", reason="bad format") from e
    return encodebytes(data).decode("ascii"), "base64"


class StoreContentsManager(AsyncContentsManager):
    """Serves a workspace's files from an object store (``file://`` or ``s3://``) via fsspec.

    Every API path is confined to ``root_url`` by ``normalize_path``. Saves return once the
    bytes are durable. Checkpoints live in the same store (``StoreCheckpoints``). Blocking
    store calls run in worker threads so the server stays responsive.
    """

    root_url = Unicode(
        "", config=True, help="Where the files live: file:///dir or s3://bucket/prefix (required)."
    )
    storage_options = Dict(
        config=True, help="fsspec options for the store, e.g. s3fs's client_kwargs.endpoint_url."
    )
    always_delete_dir = Bool(
        True,
        config=True,
        help="Delete non-empty directories (an object store has no trash to send them to).",
    )

    @default("checkpoints_class")
    def _default_checkpoints_class(self) -> type[AsyncCheckpoints]:
        return StoreCheckpoints

    @default("root_dir")
    def _default_root_dir(self) -> str:
        # Not where files are stored: where kernels run, which stays the server's root_dir.
        return str(getattr(self.parent, "root_dir", "") or os.getcwd())

    @default("files_handler_params")
    def _default_files_handler_params(self) -> dict[str, Any]:
        # /files/ is served by FilesHandler (through this manager), a StaticFileHandler
        # subclass that cannot be built without a path (jupyter_server issue #1313).
        return {"path": self.root_dir}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store  # noqa: B018 -- open the store now: a bad URL or bucket fails at startup

    @cached_property
    def store(self) -> Store:
        if not self.root_url:
            raise TraitError("StoreContentsManager.root_url is required")
        try:
            store = Store.open(self.root_url, dict(self.storage_options))
        except ValueError as e:
            raise TraitError(str(e)) from e
        store.makedir(store.root)  # the workspace root always exists, even when empty
        return store

    @cached_property
    def _uploads(self) -> tempfile.TemporaryDirectory[str]:
        """Where chunked uploads are staged until their last chunk (removed at exit)."""
        return tempfile.TemporaryDirectory(prefix="sparkstudio-uploads-")

    def info_string(self) -> str:
        return f"Serving contents from {self.root_url}"

    # -- queries -------------------------------------------------------------------------

    async def _stat(self, relative: str) -> Entry | None:
        if not relative and not self.store.local:
            # A prefix always exists, and has no times of its own: save the round trips.
            return Entry(self.store.root, True, None, EPOCH, EPOCH, writable=True)
        return await asyncio.to_thread(self.store.stat, self.store.join(relative))

    async def file_exists(self, path: str = "") -> bool:
        entry = await self._stat(normalize_path(path))
        return entry is not None and not entry.is_dir

    async def dir_exists(self, path: str) -> bool:
        entry = await self._stat(normalize_path(path))
        return entry is not None and entry.is_dir

    async def exists(self, path: str) -> bool:
        return await self._stat(normalize_path(path)) is not None

    async def is_hidden(self, path: str) -> bool:
        return _hidden(normalize_path(path))

    async def get_kernel_path(self, path: str, model: Model | None = None) -> str:
        """The notebook's directory, as FileContentsManager answers.

        The kernel manager maps it under ServerApp.root_dir and walks up to the first
        directory that exists on local disk, so kernels start in root_dir unless the
        workspace's directories also exist there.
        """
        relative = normalize_path(path)
        return relative if await self.dir_exists(relative) else _parent(relative)

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> Model:
        relative = normalize_path(path)
        entry = None if _hidden(relative) and not self.allow_hidden else await self._stat(relative)
        if entry is None:
            raise HTTPError(404, f"No such file or directory: {relative}")
        if entry.is_dir:
            if type not in (None, "directory"):
                raise HTTPError(400, f"{relative} is a directory, not a {type}", reason="bad type")
            model = await self._dir_model(relative, entry, content)
        elif type == "notebook" or (type is None and relative.endswith(".ipynb")):
            model = await self._notebook_model(relative, entry, content, require_hash)
        else:
            if type == "directory":
                raise HTTPError(400, f"{relative} is not a directory", reason="bad type")
            model = await self._file_model(relative, entry, content, format, require_hash)
        self._emit("get", relative)
        return model

    def _base_model(self, relative: str, entry: Entry, kind: str) -> Model:
        return {
            "name": relative.rsplit("/", 1)[-1],
            "path": relative,
            "type": kind,
            "last_modified": entry.modified,
            "created": entry.created,
            "content": None,
            "format": None,
            "mimetype": mimetypes.guess_type(relative)[0] if kind == "file" else None,
            "size": entry.size,
            "writable": entry.writable,
            "hash": None,
            "hash_algorithm": None,
        }

    async def _dir_model(self, relative: str, entry: Entry, content: bool) -> Model:
        model = self._base_model(relative, entry, "directory")
        if not content:
            return model
        children = []
        for child in await asyncio.to_thread(self.store.listdir, entry.path):
            name = child.name
            if name == CHECKPOINT_DIR or not self.should_list(name):
                continue
            if name.startswith(".") and not self.allow_hidden:
                continue
            kind = (
                "directory" if child.is_dir else "notebook" if name.endswith(".ipynb") else "file"
            )
            children.append(self._base_model(f"{relative}/{name}".lstrip("/"), child, kind))
        model.update(content=sorted(children, key=lambda child: str(child["name"])), format="json")
        return model

    async def _read(self, relative: str, entry: Entry) -> bytes:
        try:
            return await asyncio.to_thread(self.store.read, entry.path)
        except FileNotFoundError:  # deleted meanwhile
            raise HTTPError(404, f"No such file or directory: {relative}") from None

    async def _file_model(
        self, relative: str, entry: Entry, content: bool, format: str | None, require_hash: bool
    ) -> Model:
        model = self._base_model(relative, entry, "file")
        if not (content or require_hash):
            return model
        data = await self._read(relative, entry)
        if content:
            text, format = _from_bytes(data, format, relative)
            default_mimetype = "text/plain" if format == "text" else "application/octet-stream"
            model.update(
                content=text, format=format, mimetype=model["mimetype"] or default_mimetype
            )
        if require_hash:
            model.update(self._hash(data))
        return model

    async def _notebook_model(
        self, relative: str, entry: Entry, content: bool, require_hash: bool
    ) -> Model:
        model = self._base_model(relative, entry, "notebook")
        if not (content or require_hash):
            return model
        data = await self._read(relative, entry)
        if content:
            validation_error: dict[str, Any] = {}
            try:
                notebook = nbformat.reads(
                    data.decode("utf-8"), as_version=4, capture_validation_error=validation_error
                )
            except Exception as e:
                raise HTTPError(400, f"Unreadable Notebook: {relative} {e!r}") from e
            self.mark_trusted_cells(notebook, relative)
            model.update(content=notebook, format="json")
            self.validate_notebook_model(model, validation_error)
        if require_hash:
            model.update(self._hash(data))
        return model

    @staticmethod
    def _hash(data: bytes) -> Model:
        return {
            "hash": hashlib.new(HASH_ALGORITHM, data).hexdigest(),
            "hash_algorithm": HASH_ALGORITHM,
        }

    # -- changes -------------------------------------------------------------------------

    async def save(self, model: Model, path: str = "") -> Model:
        relative = normalize_path(path)
        if model.get("chunk") is not None:
            return await self._save_chunk(model, relative, int(model["chunk"]))
        self.run_pre_save_hooks(model=model, path=relative)
        kind = model.get("type")
        if kind is None:
            raise HTTPError(400, "No file type provided")
        if kind not in ("notebook", "file", "directory"):
            raise HTTPError(400, f"Unhandled contents type: {kind}")
        if "content" not in model and kind != "directory":
            raise HTTPError(400, "No file content provided")
        existing = await self._check_target(relative, kind)
        target = self.store.join(relative)
        validation_error: dict[str, Any] = {}
        try:
            if kind == "notebook":
                notebook = nbformat.from_dict(model["content"])
                self.check_and_sign(notebook, relative)
                text = nbformat.writes(
                    notebook,
                    version=nbformat.NO_CONVERT,
                    capture_validation_error=validation_error,
                )
                await asyncio.to_thread(self.store.write, target, text.encode("utf-8"))
                if not await self.checkpoints.list_checkpoints(relative):
                    await self.checkpoints.create_checkpoint(self, relative)
            elif kind == "file":
                data = _to_bytes(model["content"], model.get("format"), relative)
                await asyncio.to_thread(self.store.write, target, data)
            elif existing is None:
                await asyncio.to_thread(self.store.makedir, target)
        except HTTPError:
            raise
        except PermissionError as e:
            raise HTTPError(403, f"Permission denied: {relative}") from e
        except Exception as e:
            self.log.error("Error while saving file: %s %s", relative, e, exc_info=True)
            raise HTTPError(500, f"Unexpected error while saving file: {relative} {e}") from e

        saved = await self.get(relative, content=False)
        if kind == "notebook":
            self.validate_notebook_model(model, validation_error=validation_error)
            if model.get("message"):
                saved["message"] = model["message"]
        self.run_post_save_hooks(model=saved, os_path=self.store.url(target))
        self._emit("save", relative)
        return saved

    async def _check_target(self, relative: str, kind: str) -> Entry | None:
        """What is stored at ``relative``, unless saving a ``kind`` there is impossible.

        FileContentsManager could not save without a parent directory, or a file over a
        directory (or the other way round).
        """
        if not relative:
            if kind == "directory":
                return await self._stat(relative)
            raise HTTPError(400, "The workspace root is a directory")
        if _hidden(relative) and not self.allow_hidden:
            raise HTTPError(400, f"Cannot create hidden file or directory {relative!r}")
        parent = await self._stat(_parent(relative))
        if parent is None or not parent.is_dir:
            raise HTTPError(404, f"No such directory: {_parent(relative)!r}")
        existing = await self._stat(relative)
        if existing is not None and existing.is_dir != (kind == "directory"):
            what = "a directory" if existing.is_dir else "a file"
            raise HTTPError(400, f"{relative} is {what}")
        return existing

    async def _save_chunk(self, model: Model, relative: str, chunk: int) -> Model:
        """One piece of a large upload (JupyterLab sends chunks 1, 2, …, -1 for the last).

        Chunks are staged in a local file and the whole file is stored at the last one:
        object stores cannot append, and nobody ever sees half an upload.
        """
        if chunk == 1:
            self.run_pre_save_hooks(model=model, path=relative)
        if model.get("type") != "file":
            raise HTTPError(400, f"File type {model.get('type')!r} is not supported for chunks")
        if "content" not in model:
            raise HTTPError(400, "No file content provided")
        if chunk == 1:
            await self._check_target(relative, "file")
        data = _to_bytes(model["content"], model.get("format"), relative)
        staged = Path(self._uploads.name) / hashlib.sha256(relative.encode()).hexdigest()
        if chunk != 1 and not staged.exists():
            raise HTTPError(400, f"Upload of {relative} was interrupted: send it again")
        await asyncio.to_thread(_append, staged, data, chunk == 1)
        if chunk != -1:
            now = datetime.now(UTC)
            entry = Entry(str(staged), False, staged.stat().st_size, now, now, writable=True)
            return self._base_model(relative, entry, "file")
        target = self.store.join(relative)
        try:
            await asyncio.to_thread(self.store.upload, str(staged), target)
        finally:
            staged.unlink(missing_ok=True)
        saved = await self.get(relative, content=False)
        self.run_post_save_hooks(model=saved, os_path=self.store.url(target))
        self._emit("save", relative)
        return saved

    async def delete_file(self, path: str) -> None:
        relative = normalize_path(path)
        if not relative:
            raise HTTPError(400, "Can't delete root")
        if _hidden(relative) and not self.allow_hidden:
            raise HTTPError(400, f"Cannot delete file or directory {relative!r}")
        entry = await self._stat(relative)
        if entry is None:
            raise HTTPError(404, f"File or directory does not exist: {relative}")
        if entry.is_dir and not self.always_delete_dir:
            children = await asyncio.to_thread(self.store.listdir, entry.path)
            if any(child.name != CHECKPOINT_DIR for child in children):
                raise HTTPError(400, f"Directory {relative} not empty")
        await asyncio.to_thread(self.store.remove, entry.path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        old, new = normalize_path(old_path), normalize_path(new_path)
        if old == new:
            return
        if not old or not new:
            raise HTTPError(400, "Cannot rename the workspace root")
        if (_hidden(old) or _hidden(new)) and not self.allow_hidden:
            raise HTTPError(400, f"Cannot rename file or directory {old!r}")
        if new.startswith(old + "/"):
            raise HTTPError(400, f"Cannot move {old} into itself")
        source = await self._stat(old)
        if source is None:
            raise HTTPError(404, f"File or directory does not exist: {old}")
        if await self._stat(new) is not None:
            raise HTTPError(409, f"File already exists: {new}")
        parent = await self._stat(_parent(new))
        if parent is None or not parent.is_dir:
            raise HTTPError(404, f"No such directory: {_parent(new)!r}")
        try:
            await asyncio.to_thread(self.store.move, source.path, self.store.join(new))
        except PermissionError as e:
            raise HTTPError(403, f"Permission denied: {old}") from e

    def _emit(self, action: str, path: str) -> None:
        self.emit(data={"action": action, "path": path})


def _append(path: Path, data: bytes, truncate: bool) -> None:
    with path.open("wb" if truncate else "ab") as file:
        file.write(data)


class StoreCheckpoints(AsyncCheckpoints):
    """Checkpoints in the manager's store, beside each file, in FileCheckpoints' layout.

    ``<dir>/.ipynb_checkpoints/<name>-checkpoint.<ext>``: one byte-for-byte copy per file.
    """

    @property
    def _store(self) -> Store:
        if not isinstance(self.parent, StoreContentsManager):
            raise TypeError("StoreCheckpoints works with a StoreContentsManager only")
        return self.parent.store

    def _location(self, checkpoint_id: str, path: str) -> str:
        relative = normalize_path(path)
        if checkpoint_id != CHECKPOINT_ID or not relative:
            raise HTTPError(404, f"Checkpoint does not exist: {path}@{checkpoint_id}")
        directory, name = posixpath.split(relative)
        stem, extension = posixpath.splitext(name)
        name = f"{stem}-{checkpoint_id}{extension}"
        return self._store.join(posixpath.join(directory, CHECKPOINT_DIR, name))

    async def _checkpoint(self, checkpoint_id: str, path: str) -> Entry:
        entry = await asyncio.to_thread(self._store.stat, self._location(checkpoint_id, path))
        if entry is None or entry.is_dir:
            raise HTTPError(404, f"Checkpoint does not exist: {path}@{checkpoint_id}")
        return entry

    @staticmethod
    def _model(entry: Entry) -> Model:
        return {"id": CHECKPOINT_ID, "last_modified": entry.modified}

    async def create_checkpoint(self, contents_mgr: object, path: str) -> Model:
        source = await asyncio.to_thread(self._store.stat, self._store.join(normalize_path(path)))
        if source is None or source.is_dir:
            raise HTTPError(404, f"No such file: {path}")
        location = self._location(CHECKPOINT_ID, path)
        await asyncio.to_thread(self._store.copy, source.path, location)
        return self._model(await self._checkpoint(CHECKPOINT_ID, path))

    async def restore_checkpoint(self, contents_mgr: object, checkpoint_id: str, path: str) -> None:
        checkpoint = await self._checkpoint(checkpoint_id, path)
        target = self._store.join(normalize_path(path))
        await asyncio.to_thread(self._store.copy, checkpoint.path, target)

    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        old = self._location(checkpoint_id, old_path)
        if await asyncio.to_thread(self._store.stat, old) is not None:
            await asyncio.to_thread(self._store.move, old, self._location(checkpoint_id, new_path))

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        checkpoint = await self._checkpoint(checkpoint_id, path)
        await asyncio.to_thread(self._store.remove, checkpoint.path)

    async def list_checkpoints(self, path: str) -> list[Model]:
        if not normalize_path(path):
            return []  # the root directory has none
        entry = await asyncio.to_thread(self._store.stat, self._location(CHECKPOINT_ID, path))
        return [] if entry is None or entry.is_dir else [self._model(entry)]
