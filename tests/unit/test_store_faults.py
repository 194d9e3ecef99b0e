"""Object stores that cannot be read: errors that say why, quickly, and never a walk to
the instance-metadata address for credentials."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from sparkstudio.storage.stores import StoreUnreachable, fetch_file


class _Recorder(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self) -> None:
        self.answer()

    def do_PUT(self) -> None:  # the IMDSv2 token request
        self.answer()

    def answer(self) -> None:
        self.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def metadata_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A stand-in for the instance-metadata address: the paths asked of it."""
    asked: list[str] = []
    handler = type("Recorder", (_Recorder,), {"paths": asked})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{server.server_port}"
    )
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def endpoint(port: int) -> dict[str, object]:
    # A new filesystem (and client) each time: fsspec caches them by their options.
    return {
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"},
        "skip_instance_cache": True,
    }


def test_without_credentials_a_read_is_refused_at_once_without_asking_the_metadata_address(
    metadata_service: list[str], no_credentials: None, tmp_path: Path
) -> None:
    with pytest.raises(PermissionError, match="no credentials"):
        fetch_file("s3://bucket/job.py", tmp_path / "job.py", endpoint(closed_port()))
    assert metadata_service == []


def test_an_endpoint_that_does_not_answer_is_unreachable_within_seconds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    started = time.monotonic()
    with pytest.raises(StoreUnreachable, match="does not answer"):
        fetch_file("s3://bucket/job.py", tmp_path / "job.py", endpoint(closed_port()))
    took = time.monotonic() - started
    # botocore's default retries take 13 s against a refused port; a few are bounded.
    assert took < 8, f"{took:.1f} s"
