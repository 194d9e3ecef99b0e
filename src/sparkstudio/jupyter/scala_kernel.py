"""The Spark (Scala) kernel: Scala cells run in the Spark Connect REPL that ships with pyspark.

``python -m sparkstudio.jupyter.scala_kernel -f <connection file>``

The REPL (:mod:`sparkstudio.jupyter.scala_repl`) is started on the first cell, as the
kernel's user, on the cluster the workspace is attached to, and re-created when the
attachment changes. ``%attach``, ``%detach`` and ``%cluster`` are the kernel's own.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from ipykernel.kernelbase import Kernel

from sparkstudio.jupyter.agent import AttachmentRefused, change_attachment
from sparkstudio.jupyter.attachment import Attachment, read_attachment
from sparkstudio.jupyter.scala_repl import CellError, ScalaRepl
from sparkstudio.jupyter.spark_session import kernel_user, session_token

# A cell that is only one of these lines is the kernel's, not Scala: the same attachment
# magics as in the PySpark kernel.
ATTACHMENT_MAGIC = re.compile(r"\s*%(attach|detach|cluster)\b[ \t]*(.*?)\s*")


class ScalaKernel(Kernel):
    implementation = "sparkstudio-scala"
    implementation_version = "0.1.0"
    language = "scala"
    language_version = "2.13"
    language_info = {
        "name": "scala",
        "mimetype": "text/x-scala",
        "file_extension": ".scala",
        "codemirror_mode": "text/x-scala",
        "pygments_lexer": "scala",
        "version": "2.13",
    }
    banner = "Spark (Scala): Scala on the workspace's Spark cluster, through Spark Connect"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user = kernel_user()
        self.repl: ScalaRepl | None = None
        self.interrupts = 0
        atexit.register(self.stop_repl)

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        if not code.strip():
            return self._ok()
        with self._interrupts_counted():
            first = self.interrupts

            def interrupted() -> bool:
                return self.interrupts > first

            def emit(name: str, text: str) -> None:
                if not silent:
                    self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

            magic = ATTACHMENT_MAGIC.fullmatch(code)
            try:
                if magic:
                    error = self._attachment_magic(magic[1], magic[2], emit)
                else:
                    repl = self._repl_for(read_attachment(), emit, interrupted)
                    error = repl.run(code, emit, lambda: self.interrupts - first)
            except _NotAttached as detached:
                error = CellError("NotAttached", str(detached), [str(detached)])
            except Exception as failure:  # no Spark or Java, a dead REPL: the cell says so
                self.stop_repl()
                text = str(failure) or repr(failure)
                error = CellError(type(failure).__name__, text, text.splitlines())
        if error is None:
            return self._ok()
        content = {"ename": error.ename, "evalue": error.evalue, "traceback": error.traceback}
        if not silent:
            self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    def _attachment_magic(
        self, name: str, argument: str, emit: Callable[[str, str], None]
    ) -> CellError | None:
        """``%cluster``, ``%attach <cluster>``, ``%detach``: the next cell follows."""
        if name == "attach" and not argument:
            usage = "usage: %attach <cluster name or id>"
            return CellError("UsageError", usage, [usage])
        if name != "cluster":
            try:
                change_attachment(argument if name == "attach" else None, self.user)
            except AttachmentRefused as refused:
                return CellError("AttachmentRefused", str(refused), [str(refused)])
        emit("stdout", f"This workspace is {read_attachment().describe()}.\n")
        return None

    def _repl_for(
        self,
        attachment: Attachment,
        emit: Callable[[str, str], None],
        interrupted: Callable[[], bool],
    ) -> ScalaRepl:
        """The REPL on the attached cluster: started on first use, re-created on a switch."""
        if not attachment.attached:
            self.stop_repl()  # its session is on a cluster the workspace left
            raise _NotAttached(attachment.detached_message())
        previous = self.repl
        if previous is not None and previous.generation == attachment.generation:
            if previous.alive():
                return previous
            emit("stderr", "The Scala REPL had stopped: starting a new Spark session.\n")
        self.stop_repl()
        started = time.monotonic()
        self.repl = ScalaRepl.start(
            attachment.url_for(self.user, attachment.token or session_token(attachment, self.user)),
            attachment.generation,
            interrupted,
        )
        self.log.info("Scala REPL %s up in %.1f s", self.repl.pid, time.monotonic() - started)
        if previous is not None and previous.generation != attachment.generation:
            emit(
                "stdout",
                f"Switched to cluster {attachment.cluster_name} ({attachment.cluster_id}): "
                "the Spark session was re-created there.\n",
            )
        return self.repl

    @contextlib.contextmanager
    def _interrupts_counted(self) -> Iterator[None]:
        """SIGINT (how Jupyter interrupts a kernel) counts an interrupt, passed to the REPL."""

        def count(signum: int, frame: FrameType | None) -> None:
            self.interrupts += 1

        try:
            previous = signal.signal(signal.SIGINT, count)
        except ValueError:  # not the main thread: no interrupts then
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def do_interrupt(self) -> None:
        """Interrupt the running cell (what SIGINT does while a cell runs)."""
        self.interrupts += 1

    def stop_repl(self) -> None:
        repl, self.repl = self.repl, None
        if repl is not None:
            repl.stop()

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        self.stop_repl()
        return {"status": "ok", "restart": restart}

    def _ok(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "execution_count": self.execution_count,
            "payload": [],
            "user_expressions": {},
        }


class _NotAttached(Exception):
    pass


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=ScalaKernel)


if __name__ == "__main__":
    main()
