"""The warm pool's pipe: runners take its end of file for the control plane being gone."""

from __future__ import annotations

import os
import select
from pathlib import Path

from sparkstudio.serverless.warm_pool import WarmPool


def control_plane_gone(descriptor: int) -> bool:
    """What a runner asks of the descriptor it inherited (as the job runner polls it)."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLHUP)
    return bool(poller.poll(0))


def test_a_live_pool_tells_its_runners_the_control_plane_is_there(tmp_path: Path) -> None:
    pool = WarmPool(tmp_path / "runners", 1, tmp_path / "logs")
    assert not control_plane_gone(pool._alive_fd())


def test_a_pipe_closed_behind_the_pools_back_is_made_again(tmp_path: Path) -> None:
    """A descriptor closed twice elsewhere in the process may close the pool's pipe: its
    next runners must not take that for the control plane's end and leave at once."""
    pool = WarmPool(tmp_path / "runners", 1, tmp_path / "logs")
    before = pool._alive_fd()
    os.close(pool._alive_write)
    assert control_plane_gone(before)  # what a runner handed the old end would see
    after = pool._alive_fd()
    assert not control_plane_gone(after)

    # Its number reused by another file: still not the pipe.
    os.close(after)
    reused = os.open(tmp_path / "other", os.O_CREAT | os.O_RDWR)
    try:
        assert not control_plane_gone(pool._alive_fd())
    finally:
        os.close(reused)
