"""StoreContentsManager on a local directory (file://) and on a real S3 server (s3://).

Each test drives the manager's async API with ``asyncio.run`` and checks the store behind
it directly (the filesystem or boto3), never only through the manager. The last test runs
the manager inside a real jupyter_server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from fsspec.implementations.local import LocalFileSystem
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from s3fs import S3FileSystem
from tornado.web import HTTPError

from sparkstudio.jupyter.contents import StoreContentsManager, normalize_path
from sparkstudio.storage import list_roots, open_store, purge
from tests.s3 import S3Server, s3_server  # noqa: F401

PREFIX = "studios/st-1/workspaces"
CHECKPOINTS = ".ipynb_checkpoints"
AUTH = {"Authorization": "token secret"}  # the real server's token
ESCAPES = [
    "../x",
    "a/../../x",
    "..%2fx",
    "%2e%2e/x",
    "%2E%2E%2Fx",
    "a\\..\\x",
    "x\x00y",
    "a/./b",
    "a//b",
    "..",
]


@dataclass
class Workspace:
    """A workspace root in one kind of store, and direct access to what is stored there."""

    url: str
    options: dict[str, Any]
    read: Callable[[str], bytes | None]  # a path under the root → its stored bytes
    write: Callable[[str, bytes], None]  # store bytes behind the manager's back
    outside: Callable[[], list[str]]  # whatever is stored outside the root
    parent_url: str  # the prefix holding all workspaces

    def manager(self, **kwargs: Any) -> StoreContentsManager:
        return StoreContentsManager(root_url=self.url, storage_options=self.options, **kwargs)


def _file_workspace(tmp_path: Path) -> Workspace:
    store = tmp_path / "store"
    root = store / PREFIX / "ws-1"

    def read(relative: str) -> bytes | None:
        path = root / relative
        return path.read_bytes() if path.is_file() else None

    def write(relative: str, data: bytes) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)

    def outside() -> list[str]:
        return [str(p) for p in store.rglob("*") if p.is_file() and root not in p.parents]

    return Workspace(f"file://{root}", {}, read, write, outside, f"file://{store / PREFIX}")


def _s3_workspace(server: S3Server) -> Workspace:
    bucket = server.create_bucket()
    client = server.client()
    prefix = f"{PREFIX}/ws-1"

    def read(relative: str) -> bytes | None:
        try:
            stored = client.get_object(Bucket=bucket, Key=f"{prefix}/{relative}")
        except client.exceptions.NoSuchKey:
            return None
        body: bytes = stored["Body"].read()
        return body

    def write(relative: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{relative}", Body=data)

    def outside() -> list[str]:
        return [key for key in server.keys(bucket) if not key.startswith(prefix + "/")]

    url = f"s3://{bucket}/{prefix}"
    return Workspace(url, server.storage_options(), read, write, outside, f"s3://{bucket}/{PREFIX}")


@pytest.fixture(autouse=True)
def _jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the notebook notary's signature database out of the real home."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))


@pytest.fixture(params=["file", "s3"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    if request.param == "file":
        return _file_workspace(tmp_path)
    return _s3_workspace(request.getfixturevalue("s3_server"))


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def notebook() -> nbformat.NotebookNode:
    """The same small notebook every time (fixed cell ids), so its bytes can be compared."""
    code = new_code_cell("print('héllo')", execution_count=1, id="code")
    code.outputs = [new_output("stream", name="stdout", text="héllo\n")]
    return new_notebook(cells=[new_markdown_cell("# Title ✓", id="title"), code])


async def status(awaitable: Awaitable[Any]) -> int:
    """The HTTP status the manager refuses ``awaitable`` with."""
    with pytest.raises(HTTPError) as caught:
        await awaitable
    return caught.value.status_code


def status_of(action: Callable[[], Awaitable[Any]]) -> int:
    return int(run(status(action())))


def test_round_trips_notebook_text_and_binary(workspace: Workspace) -> None:
    cm = workspace.manager()
    text = "line 1\r\nünïcode € 🚀\n"
    binary = bytes(range(256)) * 4

    async def scenario() -> None:
        saved = await cm.save({"type": "notebook", "content": notebook()}, "nb.ipynb")
        await cm.save({"type": "file", "format": "text", "content": text}, "notes.txt")
        encoded = base64.b64encode(binary).decode()
        await cm.save({"type": "file", "format": "base64", "content": encoded}, "/blob.bin")

        assert saved["type"] == "notebook" and saved["content"] is None
        nb = await cm.get("nb.ipynb", require_hash=True)
        stored = workspace.read("nb.ipynb")
        assert stored is not None and stored == nbformat.writes(notebook()).encode()
        assert nb["hash"] == hashlib.sha256(stored).hexdigest()
        assert nb["hash_algorithm"] == "sha256" and nb["size"] == len(stored)
        assert [cell["source"] for cell in nb["content"]["cells"]] == [
            "# Title ✓",
            "print('héllo')",
        ]
        assert nb["content"]["cells"][1]["outputs"][0]["text"] == "héllo\n"
        assert nb["format"] == "json" and nb["writable"] is True and "message" not in nb

        notes = await cm.get("notes.txt")
        assert (notes["content"], notes["format"], notes["mimetype"]) == (
            text,
            "text",
            "text/plain",
        )
        assert workspace.read("notes.txt") == text.encode()

        blob = await cm.get("blob.bin")
        assert blob["format"] == "base64" and blob["mimetype"] == "application/octet-stream"
        assert base64.b64decode(blob["content"]) == binary == workspace.read("blob.bin")
        assert blob["size"] == len(binary)
        with pytest.raises(HTTPError) as caught:
            await cm.get("blob.bin", format="text")
        assert caught.value.status_code == 400

        for model in (nb, notes, blob):
            for stamp in (model["last_modified"], model["created"]):
                assert isinstance(stamp, datetime) and stamp.utcoffset() is not None
        without = await cm.get("notes.txt", content=False)
        assert (
            without["content"] is None
            and without["format"] is None
            and without["size"] == len(text.encode())
        )

    run(scenario())


def test_lists_directories_without_hidden_entries(workspace: Workspace) -> None:
    cm = workspace.manager()
    workspace.write("d/.secret", b"hidden")  # written behind the manager's back

    async def scenario() -> None:
        await cm.save({"type": "directory"}, "d")
        await cm.save({"type": "directory"}, "d/empty")
        await cm.save({"type": "notebook", "content": notebook()}, "d/nb.ipynb")
        await cm.save({"type": "file", "format": "text", "content": "x"}, "d/a.txt")

        listing = await cm.get("d")
        assert listing["type"] == "directory" and listing["format"] == "json"
        children = {child["name"]: child for child in listing["content"]}
        assert sorted(children) == ["a.txt", "empty", "nb.ipynb"]  # no checkpoints, no .secret
        assert [children[name]["type"] for name in sorted(children)] == [
            "file",
            "directory",
            "notebook",
        ]
        assert children["nb.ipynb"]["path"] == "d/nb.ipynb"
        assert all(child["content"] is None for child in children.values())
        assert workspace.read(f"d/{CHECKPOINTS}/nb-checkpoint.ipynb") is not None
        assert (await cm.get("d", content=False))["content"] is None
        assert [c["name"] for c in (await cm.get(""))["content"]] == ["d"]
        assert (await cm.get("d/empty"))["content"] == []
        assert await cm.is_hidden("d/.secret") and not await cm.is_hidden("d/a.txt")
        with pytest.raises(HTTPError) as caught:
            await cm.get("d/.secret")
        assert caught.value.status_code == 404
        with pytest.raises(HTTPError) as caught:
            await cm.get("d", type="file")
        assert caught.value.status_code == 400

    run(scenario())


def test_renames_files_and_directories(workspace: Workspace) -> None:
    cm = workspace.manager()

    async def scenario() -> None:
        await cm.save({"type": "directory"}, "src")
        await cm.save({"type": "directory"}, "src/sub")
        await cm.save({"type": "directory"}, "src/sub/empty")
        await cm.save({"type": "notebook", "content": notebook()}, "src/sub/nb.ipynb")
        await cm.save({"type": "file", "format": "text", "content": "one"}, "one.txt")

        await cm.rename("one.txt", "src/uno.txt")
        assert workspace.read("one.txt") is None and workspace.read("src/uno.txt") == b"one"

        await cm.rename("src", "dst")
        assert workspace.read("src/uno.txt") is None
        assert workspace.read("dst/uno.txt") == b"one"
        assert workspace.read("dst/sub/nb.ipynb") == nbformat.writes(notebook()).encode()
        assert workspace.read(f"dst/sub/{CHECKPOINTS}/nb-checkpoint.ipynb") is not None
        assert await cm.dir_exists("dst/sub/empty") and not await cm.dir_exists("src")
        assert [c["name"] for c in (await cm.get(""))["content"]] == ["dst"]

        await cm.save({"type": "file", "format": "text", "content": "two"}, "two.txt")
        assert await status(cm.rename("two.txt", "dst/uno.txt")) == 409
        assert await status(cm.rename("two.txt", "nowhere/two.txt")) == 404
        assert await status(cm.rename("missing.txt", "x.txt")) == 404
        assert await status(cm.rename("dst", "dst/sub/inside")) == 400
        assert workspace.read("two.txt") == b"two"

    run(scenario())


def test_delete_removes_stored_objects_and_checkpoints(workspace: Workspace) -> None:
    cm = workspace.manager()

    async def scenario() -> None:
        await cm.save({"type": "notebook", "content": notebook()}, "nb.ipynb")
        await cm.save({"type": "directory"}, "d")
        await cm.save({"type": "directory"}, "d/e")
        await cm.save({"type": "notebook", "content": notebook()}, "d/e/deep.ipynb")
        assert workspace.read("nb.ipynb") is not None
        assert workspace.read(f"{CHECKPOINTS}/nb-checkpoint.ipynb") is not None

        await cm.delete("nb.ipynb")
        assert workspace.read("nb.ipynb") is None
        assert workspace.read(f"{CHECKPOINTS}/nb-checkpoint.ipynb") is None
        assert not await cm.file_exists("nb.ipynb")

        await cm.delete("d")  # not empty: deleted with its contents
        assert workspace.read("d/e/deep.ipynb") is None
        assert workspace.read(f"d/e/{CHECKPOINTS}/deep-checkpoint.ipynb") is None
        assert not await cm.dir_exists("d")

        # Names are literal, never glob patterns: 'x[1]*' must not take 'x1' with it.
        for name in ("x[1]*", "x1", "x[1]*/sub"):
            await cm.save({"type": "directory"}, name)
        await cm.save({"type": "file", "format": "text", "content": "1"}, "x1/keep.txt")
        await cm.save({"type": "file", "format": "text", "content": "2"}, "x[1]*/sub/f?.txt")
        await cm.rename("x[1]*", "y[1]*")
        assert workspace.read("y[1]*/sub/f?.txt") == b"2"
        await cm.delete("y[1]*")
        assert workspace.read("y[1]*/sub/f?.txt") is None and not await cm.exists("y[1]*")
        assert workspace.read("x1/keep.txt") == b"1"

        assert await status(cm.delete("nb.ipynb")) == 404
        assert await status(cm.delete("")) == 400
        assert await cm.dir_exists("")

    run(scenario())


def test_refuses_to_delete_non_empty_directory_when_configured(workspace: Workspace) -> None:
    cm = workspace.manager(always_delete_dir=False)

    async def scenario() -> None:
        await cm.save({"type": "directory"}, "d")
        await cm.save({"type": "file", "format": "text", "content": "x"}, "d/x.txt")
        assert await status(cm.delete("d")) == 400
        await cm.delete("d/x.txt")
        await cm.delete("d")
        assert not await cm.dir_exists("d")

    run(scenario())


def test_checkpoints_create_list_restore_delete(workspace: Workspace) -> None:
    cm = workspace.manager()

    async def scenario() -> None:
        await cm.save({"type": "directory"}, "d")
        await cm.save({"type": "file", "format": "text", "content": "first"}, "d/f.tar.gz")
        assert await cm.list_checkpoints("d/f.tar.gz") == []

        checkpoint = await cm.create_checkpoint("d/f.tar.gz")
        assert checkpoint["id"] == "checkpoint"
        assert checkpoint["last_modified"].utcoffset() is not None
        assert workspace.read(f"d/{CHECKPOINTS}/f.tar-checkpoint.gz") == b"first"
        assert [c["id"] for c in await cm.list_checkpoints("d/f.tar.gz")] == ["checkpoint"]

        await cm.save({"type": "file", "format": "text", "content": "second"}, "d/f.tar.gz")
        await cm.restore_checkpoint("checkpoint", "d/f.tar.gz")
        assert (await cm.get("d/f.tar.gz"))["content"] == "first"

        await cm.delete_checkpoint("checkpoint", "d/f.tar.gz")
        assert await cm.list_checkpoints("d/f.tar.gz") == []
        assert workspace.read(f"d/{CHECKPOINTS}/f.tar-checkpoint.gz") is None
        assert await status(cm.delete_checkpoint("checkpoint", "d/f.tar.gz")) == 404
        assert await status(cm.restore_checkpoint("checkpoint", "d/f.tar.gz")) == 404
        assert await status(cm.restore_checkpoint("../../x", "d/f.tar.gz")) == 404
        assert await status(cm.create_checkpoint("d/missing.txt")) == 404
        assert [c["name"] for c in (await cm.get("d"))["content"]] == ["f.tar.gz"]

    run(scenario())


def test_another_manager_sees_what_one_saved(workspace: Workspace) -> None:
    async def save() -> None:
        cm = workspace.manager()
        await cm.save({"type": "directory"}, "d")
        await cm.save({"type": "notebook", "content": notebook()}, "d/nb.ipynb")
        await cm.save({"type": "file", "format": "text", "content": "kept"}, "d/kept.txt")

    async def load() -> None:
        cm = workspace.manager()
        assert [c["name"] for c in (await cm.get("d"))["content"]] == ["kept.txt", "nb.ipynb"]
        assert (await cm.get("d/kept.txt"))["content"] == "kept"
        cells = (await cm.get("d/nb.ipynb"))["content"]["cells"]
        assert cells[0]["source"] == "# Title ✓"
        assert len(await cm.list_checkpoints("d/nb.ipynb")) == 1

    run(save())
    run(load())


def test_rejects_paths_escaping_the_root(workspace: Workspace) -> None:
    cm = workspace.manager()
    passwd = Path("/etc/passwd")
    before = passwd.stat().st_mtime if passwd.exists() else None
    model = {"type": "file", "format": "text", "content": "pwned"}

    async def setup() -> None:
        await cm.save({"type": "directory"}, "a")
        await cm.save({"type": "file", "format": "text", "content": "ok"}, "ok.txt")

    run(setup())
    # A leading '/' is the Contents API's convention (handlers pass '/name'): '/etc/passwd'
    # is the workspace's own etc/passwd, which does not exist, hence 404 rather than 400.
    for path, expected in [*((escape, 400) for escape in ESCAPES), ("/etc/passwd", 404)]:
        for action in (
            partial(cm.get, path),
            partial(cm.save, dict(model), path),
            partial(cm.save, {**model, "chunk": 1}, path),
            partial(cm.rename, path, "renamed.txt"),
            partial(cm.rename, "ok.txt", path),
            partial(cm.delete, path),
            partial(cm.create_checkpoint, path),
        ):
            assert status_of(action) == expected, (path, action)
    assert workspace.outside() == []
    assert workspace.read("ok.txt") == b"ok"
    if before is not None:
        assert passwd.stat().st_mtime == before
    assert normalize_path("/a/b/") == "a/b"
    assert normalize_path("") == normalize_path("/") == ""


def test_local_symlinks_do_not_lead_out_of_the_root(tmp_path: Path) -> None:
    workspace = _file_workspace(tmp_path)
    cm = workspace.manager()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("private")
    (Path(cm.store.root) / "link").symlink_to(secret)
    (Path(cm.store.root) / "key.txt").symlink_to(secret / "key.txt")
    for action in (
        partial(cm.get, "link/key.txt"),
        partial(cm.get, "key.txt"),
        partial(cm.save, {"type": "file", "format": "text", "content": "x"}, "link/new.txt"),
        partial(cm.delete, "link/key.txt"),
    ):
        assert status_of(action) == 404
    assert sorted(p.name for p in secret.iterdir()) == ["key.txt"]
    assert (secret / "key.txt").read_text() == "private"
    assert run(cm.get(""))["content"] == []  # symlinks are not listed either


def test_missing_paths_are_404(workspace: Workspace) -> None:
    cm = workspace.manager()
    for action in (
        lambda: cm.get("missing.txt"),
        lambda: cm.get("missing/deeper.ipynb"),
        lambda: cm.get("missing", type="directory"),
        lambda: cm.delete("missing.txt"),
        lambda: cm.save({"type": "file", "format": "text", "content": ""}, "missing/x.txt"),
    ):
        assert status_of(action) == 404


def test_file_and_dir_exist(workspace: Workspace) -> None:
    cm = workspace.manager()

    async def scenario() -> None:
        await cm.save({"type": "directory"}, "d")
        await cm.save({"type": "file", "format": "text", "content": "x"}, "d/f.txt")
        assert await cm.file_exists("d/f.txt") and await cm.file_exists("/d/f.txt")
        assert not await cm.file_exists("d") and not await cm.file_exists("nope")
        assert await cm.dir_exists("d") and await cm.dir_exists("") and await cm.dir_exists("/")
        assert not await cm.dir_exists("d/f.txt") and not await cm.dir_exists("nope")
        assert await cm.exists("d") and await cm.exists("d/f.txt") and not await cm.exists("x")
        assert await cm.get_kernel_path("d/f.txt") == "d"
        assert await cm.get_kernel_path("d") == "d"
        # new_untitled and copy come from the base class, on top of the methods above
        untitled = await cm.new_untitled("d", ext=".ipynb")
        assert untitled["path"] == "d/Untitled.ipynb"
        copied = await cm.copy("d/f.txt")
        assert copied["path"] == "d/f-Copy1.txt" and workspace.read("d/f-Copy1.txt") == b"x"

    run(scenario())


def test_chunked_upload_appears_whole_at_the_last_chunk(workspace: Workspace) -> None:
    cm = workspace.manager()
    pieces = [os.urandom(1000), os.urandom(1000), os.urandom(10)]

    def chunk(number: int, data: bytes) -> dict[str, Any]:
        content = base64.b64encode(data).decode()
        return {"type": "file", "format": "base64", "content": content, "chunk": number}

    async def scenario() -> None:
        first = await cm.save(chunk(1, pieces[0]), "big.bin")
        assert first["size"] == 1000 and first["name"] == "big.bin"
        await cm.save(chunk(2, pieces[1]), "big.bin")
        assert workspace.read("big.bin") is None  # nobody sees half an upload
        last = await cm.save(chunk(-1, pieces[2]), "big.bin")
        assert last["size"] == 2010
        assert workspace.read("big.bin") == b"".join(pieces)
        with pytest.raises(HTTPError) as caught:
            await cm.save(chunk(2, b"late"), "other.bin")
        assert caught.value.status_code == 400

    run(scenario())


def test_local_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = _file_workspace(tmp_path)
    cm = workspace.manager()
    run(cm.save({"type": "file", "format": "text", "content": "old"}, "f.txt"))
    root = Path(cm.store.root)

    def crash(source: str, target: str) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    assert (
        status_of(lambda: cm.save({"type": "file", "format": "text", "content": "new"}, "f.txt"))
        == 500
    )
    monkeypatch.undo()
    assert workspace.read("f.txt") == b"old"
    assert sorted(p.name for p in root.iterdir()) == ["f.txt"]  # no temporary left behind


def test_store_calls_do_not_block_the_event_loop(tmp_path: Path) -> None:
    cm = _file_workspace(tmp_path).manager()
    run(cm.save({"type": "file", "format": "text", "content": "x"}, "f.txt"))
    read = cm.store.read

    def slow_read(path: str) -> bytes:
        time.sleep(0.3)
        return read(path)

    cm.store.read = slow_read  # type: ignore[method-assign]

    async def scenario() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await cm.get("f.txt")
        task.cancel()
        return ticks

    assert run(scenario()) >= 5  # the loop kept ticking while the file was being read


def test_open_store_purge_and_list_roots(workspace: Workspace) -> None:
    workspace.manager()  # creates ws-1's root
    other = workspace.url.replace("ws-1", "ws-2")
    cm = StoreContentsManager(root_url=other, storage_options=workspace.options)
    run(cm.save({"type": "directory"}, "d"))
    run(cm.save({"type": "file", "format": "text", "content": "x"}, "d/x.txt"))

    fs, root = open_store(other, workspace.options)
    assert isinstance(fs, S3FileSystem if other.startswith("s3://") else LocalFileSystem)
    assert root == other.split("://", 1)[1] and not root.endswith("/")
    assert list_roots(workspace.parent_url, workspace.options) == ["ws-1", "ws-2"]

    purge(other, workspace.options)
    assert list_roots(workspace.parent_url, workspace.options) == ["ws-1"]
    assert not fs.exists(f"{root}/d/x.txt")
    purge(other, workspace.options)  # nothing left: no error
    assert list_roots(workspace.url, workspace.options) == []
    assert list_roots(workspace.parent_url + "/nothing", workspace.options) == []
    with pytest.raises(ValueError, match=r"file://, s3://"):
        open_store("http://example.com/x")
    whole = workspace.url.split("/" + PREFIX)[0] if other.startswith("s3") else "file:///"
    with pytest.raises(ValueError, match="whole"):
        purge(whole, workspace.options)  # a bucket or the filesystem root: never


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def jupyter_server(s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[str, str]]:  # noqa: F811
    """A real jupyter_server serving an s3:// workspace; yields (base URL, bucket)."""
    bucket = s3_server.create_bucket()
    root_dir = tmp_path / "kernels"
    root_dir.mkdir()
    port = _free_port()
    options = {"client_kwargs": {"endpoint_url": s3_server.endpoint_url}}
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.contents_manager_class=sparkstudio.jupyter.contents.StoreContentsManager",
        f"--StoreContentsManager.root_url=s3://{bucket}/{PREFIX}/ws-1",
        f"--StoreContentsManager.storage_options={json.dumps(options)}",
        "--IdentityProvider.token=secret",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root_dir}",
        "--allow-root",
    ]
    log = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/api/status", headers=AUTH, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield base, bucket
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_inside_a_real_jupyter_server(
    jupyter_server: tuple[str, str],
    s3_server: S3Server,  # noqa: F811
) -> None:
    base, bucket = jupyter_server
    prefix = f"{PREFIX}/ws-1"
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as http:
        put = http.put("/api/contents/nb.ipynb", json={"type": "notebook", "content": notebook()})
        assert put.status_code == 201, put.text
        got = http.get("/api/contents/nb.ipynb")
        assert got.status_code == 200
        assert got.json()["content"]["cells"][0]["source"] == "# Title ✓"

        created = http.post("/api/contents/nb.ipynb/checkpoints")
        assert created.status_code == 201 and created.json()["id"] == "checkpoint"
        assert {f"{prefix}/nb.ipynb", f"{prefix}/{CHECKPOINTS}/nb-checkpoint.ipynb"} <= set(
            s3_server.keys(bucket)
        )
        listed = http.get("/api/contents/nb.ipynb/checkpoints").json()
        assert [c["id"] for c in listed] == ["checkpoint"]
        assert [c["name"] for c in http.get("/api/contents").json()["content"]] == ["nb.ipynb"]

        raw = http.get("/files/nb.ipynb")  # the /files/ handler reads through the manager too
        assert raw.status_code == 200 and raw.content == nbformat.writes(notebook()).encode()
        moved = http.patch("/api/contents/nb.ipynb", json={"path": "moved.ipynb"})
        assert moved.status_code == 200 and moved.json()["path"] == "moved.ipynb"

        # Tornado decodes the URL once: these reach the manager as '..', '/' or '\\'.
        for escape in ("..%2f..%2fx.txt", "%2e%2e/x.txt", "a%5c..%5cx.txt", "%252e%252e%252fx"):
            body = {"type": "file", "format": "text", "content": "x"}
            assert http.put(f"/api/contents/{escape}", json=body).status_code == 400, escape
            assert http.get(f"/api/contents/{escape}").status_code == 400, escape

    keys = s3_server.keys(bucket)
    assert f"{prefix}/moved.ipynb" in keys and f"{prefix}/nb.ipynb" not in keys
    assert f"{prefix}/{CHECKPOINTS}/moved-checkpoint.ipynb" in keys  # moved along
    assert all(key.startswith(prefix + "/") for key in keys)
