"""The Spark (Scala) kernel, driven as Jupyter drives it, on the shared real cluster.

One kernel serves the module (a REPL JVM takes 10-30 s to start): the tests run in file
order on it, from detached, through attached and switched, to its shutdown.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from sparkstudio.jupyter.attachment import Attachment, write_attachment
from sparkstudio.jupyter.kernelspecs import write_kernelspecs
from tests.conftest import SparkCluster
from tests.support import SHARES_THE_SPARK_CLUSTER, UserClient, expect

pytestmark = [pytest.mark.spark, SHARES_THE_SPARK_CLUSTER]

REPL_START = 300.0  # seconds a cell may take when it starts the REPL (busy hosts are slow)


@dataclass
class Cell:
    reply: dict[str, Any]
    stdout: str = ""
    stderr: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.reply["status"])


@dataclass
class Kernel:
    manager: KernelManager
    client: BlockingKernelClient
    attachment_file: Path
    front: Front
    cluster: dict[str, Any]

    def run(self, code: str, timeout: float = REPL_START) -> Cell:
        cell = Cell(reply={})

        def collect(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                if content["name"] == "stdout":
                    cell.stdout += content["text"]
                else:
                    cell.stderr += content["text"]
            elif message["msg_type"] == "error":
                cell.errors.append(content)

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=collect)
        cell.reply = reply["content"]
        return cell

    def attach(self, generation: int) -> None:
        attachment = Attachment(
            generation=generation,
            cluster_id=self.cluster["id"],
            cluster_name=self.cluster["name"],
            connect_url=self.front.url,
            token=self.front.token,
        )
        write_attachment(attachment, self.attachment_file)

    def repl_pid(self) -> int:
        cell = self.run("println(ProcessHandle.current().pid())")
        assert cell.status == "ok", cell
        return int(cell.stdout.strip())

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=False)


def start_kernel(directory: Path, front: Front, cluster: dict[str, Any]) -> Kernel:
    """A Spark (Scala) kernel from the spec sparkstudio writes, as Jupyter starts one."""
    write_kernelspecs(directory / "data", python=sys.executable)
    specs = KernelSpecManager(kernel_dirs=[str(directory / "data" / "kernels")])
    manager = KernelManager(kernel_name="spark-scala", kernel_spec_manager=specs)
    attachment_file = directory / "attachment.json"
    env = {
        **os.environ,
        "SPARKSTUDIO_ATTACHMENT_FILE": str(attachment_file),
        "SPARKSTUDIO_USER": "scala-tester",
    }
    manager.start_kernel(env=env, cwd=str(directory))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return Kernel(manager, client, attachment_file, front, cluster)


def exited(pid: int) -> bool:
    """Gone, or a zombie no one reaps (its parent, the kernel, was killed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def wait_until_exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not exited(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@dataclass(frozen=True)
class Front:
    """The platform's Spark Connect front and a token of the admin's for the cluster."""

    url: str  # sc://localhost:<port>, as an attachment carries it
    token: str


@pytest.fixture(scope="module")
def front(admin: UserClient, spark_cluster: SparkCluster) -> Front:
    connection = expect(admin.get(f"{spark_cluster.path}/connection"), 200)
    # The kernel adds its own token and user: the attachment carries the front's address
    # and the token apart (as a notebook run's does).
    found = re.fullmatch(r"(sc://[^/]+)/;token=([^;]+);user_id=[^;]*", connection["url"])
    assert found, connection
    return Front(found[1], found[2])


@pytest.fixture(scope="module")
def kernel(
    tmp_path_factory: pytest.TempPathFactory, front: Front, spark_cluster: SparkCluster
) -> Iterator[Kernel]:
    started = start_kernel(tmp_path_factory.mktemp("scala"), front, spark_cluster.cluster)
    yield started
    started.shutdown()


def test_a_detached_workspace_says_how_to_attach(kernel: Kernel) -> None:
    cell = kernel.run("spark.range(1).count()")
    assert cell.status == "error"
    assert cell.reply["evalue"] == Attachment().detached_message()
    assert "attach" in cell.reply["evalue"]
    assert cell.errors[0]["evalue"] == cell.reply["evalue"]


def test_a_multi_line_cell_runs_on_the_cluster(kernel: Kernel) -> None:
    kernel.attach(generation=1)
    code = """\
def plusOne(value: Int): Int = {
  val one = 1
  value + one
}
println(plusOne(41))
spark.range(10).selectExpr("sum(id)").collect()
"""
    cell = kernel.run(code)
    assert cell.status == "ok", cell
    lines = cell.stdout.splitlines()
    assert lines[0] == "42"
    assert "defined function plusOne" in lines
    result = r"^res\S*: Array\[org\.apache\.spark\.sql\.Row\] = Array\(\[45\]\)$"
    assert re.search(result, cell.stdout, re.M)
    assert "scala>" not in cell.stdout and "\x1b" not in cell.stdout
    assert "plusOne(41)" not in cell.stdout  # no echo of the input


def test_a_compile_error_is_an_error_and_the_kernel_goes_on(kernel: Kernel) -> None:
    cell = kernel.run('val answer: Int = "forty-two"')
    assert cell.status == "error"
    assert cell.reply["ename"] == "CompileError"
    assert cell.reply["evalue"] == "line 1: type mismatch;"
    assert "Compilation Failed" in cell.reply["traceback"]
    assert cell.errors and cell.errors[0]["ename"] == "CompileError"

    after = kernel.run('val answer = 6 * 7\nprintln(s"the answer is $answer")')
    assert after.status == "ok", after
    assert "the answer is 42" in after.stdout


def test_exceptions_are_errors_with_their_class_and_message(kernel: Kernel) -> None:
    thrown = kernel.run('println("before"); throw new IllegalStateException("broken")')
    assert thrown.status == "error"
    assert thrown.stdout == "before\n"
    assert (thrown.reply["ename"], thrown.reply["evalue"]) == ("IllegalStateException", "broken")
    assert thrown.reply["traceback"][0] == "java.lang.IllegalStateException: broken"

    unresolved = kernel.run('spark.sql("SELECT no_such_column").collect()')
    assert unresolved.status == "error"
    assert unresolved.reply["ename"] == "AnalysisException"
    assert "UNRESOLVED_COLUMN" in unresolved.reply["evalue"]


def test_an_interrupt_stops_the_running_cell(kernel: Kernel) -> None:
    timer = threading.Timer(2.0, kernel.manager.interrupt_kernel)
    timer.start()
    started = time.monotonic()
    cell = kernel.run('Thread.sleep(120000)\nprintln("slept")', timeout=60)
    timer.join()
    assert cell.status == "error"
    assert cell.reply["ename"] == "InterruptedException"
    assert time.monotonic() - started < 30
    assert kernel.run('println("awake")').stdout == "awake\n"


def test_switching_the_cluster_recreates_the_session(kernel: Kernel) -> None:
    before = kernel.repl_pid()
    kernel.attach(generation=2)  # the same server: still a new session, as for another one
    cell = kernel.run('spark.range(10).selectExpr("sum(id) AS total").head().getLong(0)')
    assert cell.status == "ok", cell
    name, cluster_id = kernel.cluster["name"], kernel.cluster["id"]
    assert cell.stdout.startswith(
        f"Switched to cluster {name} ({cluster_id}): the Spark session was re-created"
    )
    assert re.search(r"^res\S*: Long = 45L$", cell.stdout, re.M)
    assert kernel.repl_pid() != before
    assert wait_until_exited(before, 10)

    unchanged = kernel.run("1 + 1")
    assert "Switched" not in unchanged.stdout


def test_shutdown_stops_the_repl(kernel: Kernel) -> None:
    pid = kernel.repl_pid()
    kernel.shutdown()
    # The kernel reaps its REPL: the process is gone, not a zombie.
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists()


def test_the_repl_ends_when_its_kernel_is_killed(
    tmp_path: Path, front: Front, spark_cluster: SparkCluster
) -> None:
    kernel = start_kernel(tmp_path, front, spark_cluster.cluster)
    try:
        kernel.attach(generation=1)
        me = "ProcessHandle.current()"
        cell = kernel.run(
            f'println(Seq({me}.pid(), {me}.parent().get().pid(), sys.env("SPARKSTUDIO_REPL_SETUP"))'
            '.mkString(" "))'
        )
        pid, kernel_pid, setup_file = cell.stdout.split()
        os.kill(int(kernel_pid), signal.SIGKILL)  # the REPL is the kernel's own child
        assert wait_until_exited(int(pid), 15)
        # Its scratch directory (setup code, JVM options, java.io.tmpdir) goes with it.
        deadline = time.monotonic() + 10
        while Path(setup_file).parent.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(setup_file).parent.exists()
    finally:
        kernel.client.stop_channels()
        kernel.manager.cleanup_resources()
