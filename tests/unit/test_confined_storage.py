"""File operations under a studio's root never follow a link, even one swapped in mid-way."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sparkstudio.storage.confined import (
    copy_out_beneath,
    makedirs_beneath,
    read_bytes_beneath,
    write_beneath,
)

LEVELS = ("a", "a/b", "a/b/c", "a/b/c/file.txt")
RACE_SECONDS = 5.0
RACE_ATTEMPTS = 3000  # enough that a check-then-open implementation is caught


@pytest.fixture
def studio(tmp_path: Path) -> tuple[Path, Path]:
    """A studio root with a/b/c/file.txt, and an outside tree of the same shape."""
    root, outside = tmp_path / "st-a", tmp_path / "st-b"
    for top, content in ((root, b"inside"), (outside, b"OUTSIDE")):
        (top / "a" / "b" / "c").mkdir(parents=True)
        (top / "a" / "b" / "c" / "file.txt").write_bytes(content)
    return root, outside


def plant_link(root: Path, outside: Path, level: str) -> None:
    """Replace ``level`` under ``root`` by a link to the same place under ``outside``."""
    planted = root / level
    if planted.is_dir():
        shutil.rmtree(planted)
    else:
        planted.unlink()
    planted.symlink_to(outside / level)


def snapshot(tree: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(tree)): path.read_bytes() if path.is_file() else b"<dir>"
        for path in sorted(tree.rglob("*"))
    }


def test_reads_writes_and_copies_beneath_the_root(
    studio: tuple[Path, Path], tmp_path: Path
) -> None:
    root, _ = studio
    assert read_bytes_beneath(root, "a/b/c/file.txt") == b"inside"
    write_beneath(root, "a/new/deeper/nb.ipynb", b"{}")
    assert (root / "a/new/deeper/nb.ipynb").read_bytes() == b"{}"
    destination = tmp_path / "copied.txt"
    copy_out_beneath(root, "a/b/c/file.txt", destination)
    assert destination.read_bytes() == b"inside"
    makedirs_beneath(root, "x/y/z")
    assert (root / "x/y/z").is_dir()
    makedirs_beneath(root, "x/y/z")  # already there: nothing to do


@pytest.mark.parametrize("level", LEVELS)
def test_a_link_at_any_level_is_refused_by_every_operation(
    studio: tuple[Path, Path], tmp_path: Path, level: str
) -> None:
    root, outside = studio
    before = snapshot(outside)
    plant_link(root, outside, level)
    destination = tmp_path / "copied.txt"
    operations: list[Callable[[], object]] = [
        lambda: read_bytes_beneath(root, "a/b/c/file.txt"),
        lambda: copy_out_beneath(root, "a/b/c/file.txt", destination),
        lambda: write_beneath(root, "a/b/c/file.txt", b"overwritten"),
    ]
    if level != "a/b/c/file.txt":
        operations += [
            lambda: write_beneath(root, f"{level}/new.txt", b"planted"),
            lambda: makedirs_beneath(root, f"{level}/more"),
        ]
    for operation in operations:
        with pytest.raises(PermissionError, match=f"{level} is a symbolic link"):
            operation()
    assert snapshot(outside) == before
    assert not destination.exists()


def test_a_link_that_stays_inside_is_refused_too(studio: tuple[Path, Path]) -> None:
    """No link is followed at all: whether it leads out is not worth judging."""
    root, _ = studio
    (root / "alias").symlink_to(root / "a")
    with pytest.raises(PermissionError, match="alias is a symbolic link"):
        read_bytes_beneath(root, "alias/b/c/file.txt")


def test_a_dangling_link_is_not_created_through(studio: tuple[Path, Path]) -> None:
    root, outside = studio
    (root / "new").symlink_to(outside / "not-yet")
    with pytest.raises(PermissionError, match="new is a symbolic link"):
        write_beneath(root, "new/file.txt", b"x")
    with pytest.raises(PermissionError, match="new is a symbolic link"):
        makedirs_beneath(root, "new")
    assert not (outside / "not-yet").exists()


def test_the_root_itself_may_be_the_platforms_link(
    studio: tuple[Path, Path], tmp_path: Path
) -> None:
    root, _ = studio
    (tmp_path / "studios").symlink_to(root)
    assert read_bytes_beneath(tmp_path / "studios", "a/b/c/file.txt") == b"inside"


@pytest.mark.parametrize(
    "relative", ["", ".", "..", "a/../b", "a/./b", "/etc/passwd", "a//b", "a/", "a/b\x00c"]
)
def test_relative_paths_are_plain_names(studio: tuple[Path, Path], relative: str) -> None:
    root, _ = studio
    with pytest.raises(ValueError, match="plain names"):
        read_bytes_beneath(root, relative)
    with pytest.raises(ValueError, match="plain names"):
        write_beneath(root, relative, b"x")


def test_only_regular_files_are_read(studio: tuple[Path, Path]) -> None:
    root, _ = studio
    os.mkfifo(root / "pipe")
    with pytest.raises(PermissionError, match="not a regular file"):
        read_bytes_beneath(root, "pipe")  # returns at once: a FIFO never blocks the caller
    with pytest.raises(IsADirectoryError):
        read_bytes_beneath(root, "a/b")
    with pytest.raises(FileNotFoundError, match=r"a/missing\.txt does not exist"):
        read_bytes_beneath(root, "a/missing.txt")
    with pytest.raises(FileNotFoundError, match="a/missing does not exist"):
        read_bytes_beneath(root, "a/missing/file.txt")
    with pytest.raises(NotADirectoryError):
        read_bytes_beneath(root, "a/b/c/file.txt/more")


def test_writes_replace_atomically_with_the_mode_asked(
    studio: tuple[Path, Path], tmp_path: Path
) -> None:
    root, _ = studio
    write_beneath(root, "a/b/c/file.txt", b"second")
    target = root / "a/b/c/file.txt"
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 << 20))
    write_beneath(root, "out/big.bin", source, mode=0o640)
    assert (root / "out/big.bin").read_bytes() == source.read_bytes()
    assert stat.S_IMODE((root / "out/big.bin").stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "out").stat().st_mode) == 0o700
    assert [p.name for p in (root / "a/b/c").iterdir()] == ["file.txt"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    studio: tuple[Path, Path], tmp_path: Path
) -> None:
    root, _ = studio
    with pytest.raises(FileNotFoundError):
        write_beneath(root, "a/b/c/file.txt", tmp_path / "no-such-source")
    assert (root / "a/b/c/file.txt").read_bytes() == b"inside"
    assert [p.name for p in (root / "a/b/c").iterdir()] == ["file.txt"]


def test_copies_stream_large_files(studio: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = studio
    data = os.urandom(5 << 20)
    (root / "a/large.bin").write_bytes(data)
    destination = tmp_path / "large.bin"
    destination.write_bytes(b"previous content, longer than nothing")
    copy_out_beneath(root, "a/large.bin", destination)
    assert destination.read_bytes() == data


@contextlib.contextmanager
def swapping(root: Path, outside: Path) -> Iterator[None]:
    """While open, ``root/a`` flips between its real directory and a link to ``outside/a``."""
    stop = threading.Event()
    parked = root / "parked"

    def flip() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                os.rename(root / "a", parked)
                os.symlink(outside / "a", root / "a")
                os.unlink(root / "a")
                os.rename(parked, root / "a")
            # A writer may have made a fresh root/a meanwhile: put the real one back.
            if parked.exists():
                target = root / "a"
                with contextlib.suppress(OSError):
                    if target.is_symlink():
                        target.unlink()
                    elif target.is_dir():
                        shutil.rmtree(target)
                    os.rename(parked, target)

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_link_swapped_in_during_reads_is_never_followed(studio: tuple[Path, Path]) -> None:
    root, outside = studio
    seen: set[str] = set()
    attempts = 0
    deadline = time.monotonic() + RACE_SECONDS
    with swapping(root, outside):
        while time.monotonic() < deadline and not (
            {"inside", "refused"} <= seen and attempts >= RACE_ATTEMPTS
        ):
            attempts += 200
            for _ in range(200):
                try:
                    data = read_bytes_beneath(root, "a/b/c/file.txt")
                except PermissionError:
                    seen.add("refused")
                except FileNotFoundError:
                    seen.add("missing")
                else:
                    assert data == b"inside", "read through a link swapped in"
                    seen.add("inside")
    assert {"inside", "refused"} <= seen  # both sides of the race were met


def test_a_link_swapped_in_during_writes_is_never_written_through(
    studio: tuple[Path, Path],
) -> None:
    root, outside = studio
    before = snapshot(outside)
    refused = written = attempts = 0
    deadline = time.monotonic() + RACE_SECONDS
    with swapping(root, outside):
        while time.monotonic() < deadline and not (
            refused and written and attempts >= RACE_ATTEMPTS
        ):
            attempts += 100
            for _ in range(100):
                try:
                    write_beneath(root, "a/b/c/new.txt", b"written")
                except PermissionError:
                    refused += 1
                except (FileNotFoundError, NotADirectoryError):
                    pass
                else:
                    written += 1
    assert refused and written
    assert snapshot(outside) == before
