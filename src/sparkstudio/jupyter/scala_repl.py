"""The Spark Connect Scala REPL that ships with pyspark, driven through a pty.

The REPL (``org.apache.spark.sql.application.ConnectRepl``: Ammonite with ``spark``
bound to a Spark Connect session) is a JVM driven through a pty. It is started on the
first cell, as the kernel's user, on the cluster the workspace is attached to, and
re-created when the attachment changes.

Ammonite's own front end is a line editor that redraws the input in colour, which cannot
be parsed reliably. So the kernel answers its first prompt with one line that loads
:data:`SETUP_SCALA`; that code installs a plain front end speaking a line protocol
(``<mark>`` is a random token per REPL, so user output never collides with it):

- kernel → REPL: ``<mark>:run``, the cell's lines, ``<mark>:end``; ``<mark>:interrupt``;
  ``<mark>:exit`` (close the Spark session and exit).
- REPL → kernel: the cell's output, then ``<mark>:ready`` when the next cell may be sent.

Errors are recognised by colour: the setup gives Ammonite's error colour (compile errors,
exceptions, syntax errors, "Interrupted!") an escape sequence nothing else prints, and
warnings/info another one; every other escape sequence is stripped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
import tty
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pexpect  # type: ignore[import-untyped]

from sparkstudio.spark.home import SparkHome, find_spark_home
from sparkstudio.spark.java import find_java

CONNECT_REPL_CLASS = "org.apache.spark.sql.application.ConnectRepl"
START_TIMEOUT = 300.0  # seconds: a cold JVM on a busy host, plus the client's connect retries
EXIT_GRACE = 5.0  # seconds the REPL gets to close its Spark session and exit
POLL = 0.2  # seconds between checks for an interrupt while a cell runs

# The options spark-submit gives every JVM (Spark's launcher, JavaModuleOptions): Arrow
# and Netty in the Connect client need them on Java 17+.
JVM_OPTIONS = [
    "-Xmx1g",
    # C1 only: the REPL's start is dominated by cold scalac; on a busy host the C2
    # compiler threads cost more than they bring (measured: ~40% faster start).
    "-XX:TieredStopAtLevel=1",
    "-XX:+IgnoreUnrecognizedVMOptions",
    *(
        f"--add-opens=java.base/{package}=ALL-UNNAMED"
        for package in (
            "java.lang",
            "java.lang.invoke",
            "java.lang.reflect",
            "java.io",
            "java.net",
            "java.nio",
            "java.util",
            "java.util.concurrent",
            "java.util.concurrent.atomic",
            "jdk.internal.ref",
            "sun.nio.ch",
            "sun.nio.cs",
            "sun.security.action",
            "sun.util.calendar",
        )
    ),
    "-Dio.netty.tryReflectionSetAccessible=true",
]

LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# The client warns once that the host name resolves to a loopback address: noise here.
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
"""

# Ammonite colours (truecolor escapes no REPL output uses) and what they mean here.
ERROR_SGR = "\x1b[38;2;254;1;1m"
NOTICE_SGRS = ("\x1b[38;2;254;1;2m", "\x1b[38;2;254;1;3m")  # warnings, info
SYNTAX_ERROR = "Syntax error: "

SETUP_SCALA = """\
object SparkStudioKernel {
  import java.nio.charset.StandardCharsets.UTF_8
  import ammonite.util.Res

  private val mark = sys.env("SPARKSTUDIO_REPL_MARK")
  private val kernelPid = sys.env("SPARKSTUDIO_KERNEL_PID").toLong
  private val session = spark
  private val mainThread = Thread.currentThread()
  private val cells = new java.util.concurrent.LinkedBlockingQueue[String]()
  private val lock = new Object
  private var busy = false

  private def daemon(name: String)(body: => Unit): Unit = {
    val thread = new Thread(() => body, name)
    thread.setDaemon(true)
    thread.start()
  }

  private def isBusy: Boolean = lock.synchronized(busy)

  private def awaitIdle(millis: Long): Unit = lock.synchronized {
    val deadline = System.currentTimeMillis() + millis
    while (busy && System.currentTimeMillis() < deadline)
      lock.wait(math.max(1L, deadline - System.currentTimeMillis()))
  }

  // Cancel the session's Spark operations first (the cell then fails on its own), then
  // interrupt the thread (sleeps, waits), and stop it as a last resort (Java < 20).
  private def interrupt(): Unit = {
    if (isBusy) { try session.interruptAll() catch { case _: Throwable => () }; awaitIdle(2000) }
    if (isBusy) { mainThread.interrupt(); awaitIdle(2000) }
    lock.synchronized { if (busy) try mainThread.stop() catch { case _: Throwable => () } }
  }

  private def exit(): Unit = {
    daemon("sparkstudio-halt") { Thread.sleep(5000); Runtime.getRuntime.halt(1) }
    try session.close() catch { case _: Throwable => () }
    sys.exit(0)
  }

  // The kernel removes it too, unless it was killed (then the pty's hangup ends the JVM).
  private def removeWorkdir(): Unit = try {
    val root = java.nio.file.Paths.get(sys.env("SPARKSTUDIO_REPL_SETUP")).getParent
    val paths = java.nio.file.Files.walk(root)
    try paths.sorted(java.util.Comparator.reverseOrder[java.nio.file.Path]())
      .forEach(path => java.nio.file.Files.deleteIfExists(path))
    finally paths.close()
  } catch { case _: Throwable => () }

  // Reads the kernel's lines; the end of input (the kernel closed the pty) stops the REPL.
  private def pump(): Unit = try {
    val in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, UTF_8))
    var cell: java.lang.StringBuilder = null
    var running = true
    while (running) {
      val line = in.readLine()
      if (line == null || line == mark + ":exit") running = false
      else if (line == mark + ":run") cell = new java.lang.StringBuilder
      else if (line == mark + ":end") { if (cell != null) cells.put(cell.toString); cell = null }
      else if (line == mark + ":interrupt") interrupt()
      else if (cell != null) cell.append(line).append('\\n')
    }
  } finally exit()

  // The kernel died without closing the pty (its fd inherited elsewhere): stop anyway.
  private def watchParent(): Unit = while (true) {
    Thread.sleep(1000)
    if (ProcessHandle.current().parent().map[Long](_.pid()).orElse(-1L) != kernelPid) exit()
  }

  private def quiet(colors: ammonite.util.Colors): Unit = {
    Seq(colors.prompt, colors.ident, colors.`type`, colors.literal, colors.prefix,
      colors.comment, colors.keyword, colors.selected).foreach(_.update(fansi.Attrs.Empty))
    colors.error() = fansi.Color.True(254, 1, 1)
    colors.warning() = fansi.Color.True(254, 1, 2)
    colors.info() = fansi.Color.True(254, 1, 3)
  }

  object FrontEnd extends ammonite.repl.api.FrontEnd {
    def width: Int = 120
    def height: Int = 10000
    def action(
        input: java.io.InputStream,
        reader: java.io.Reader,
        output: java.io.OutputStream,
        prompt: String,
        colors: ammonite.util.Colors,
        compilerComplete: (Int, String) => (Int, Seq[String], Seq[String]),
        history: IndexedSeq[String],
        addHistory: String => Unit): Res[(String, Seq[String])] = {
      lock.synchronized { busy = false; lock.notifyAll() }
      Thread.interrupted()
      quiet(colors)
      output.write((mark + ":ready\\n").getBytes(UTF_8))
      output.flush()
      var code: String = null
      while (code == null) try code = cells.take() catch { case _: InterruptedException => () }
      ammonite.compiler.Parsers.split(code, false, "(console)") match {
        case Some(Right(statements)) =>
          addHistory(code)
          lock.synchronized { busy = true }
          Res.Success((code, statements))
        case Some(Left(error)) => Res.Failure("{SYNTAX}" + error)
        case None => Res.Failure("{SYNTAX}incomplete input")
      }
    }
  }

  def install(): Unit = {
    sys.addShutdownHook(removeWorkdir())
    daemon("sparkstudio-input")(pump())
    daemon("sparkstudio-parent")(watchParent())
  }
}
repl.pprinter() = repl.pprinter().copy(
  defaultHeight = 500, colorLiteral = fansi.Attrs.Empty, colorApplyPrefix = fansi.Attrs.Empty)
SparkStudioKernel.install()
repl.frontEnd() = SparkStudioKernel.FrontEnd
""".replace("{SYNTAX}", SYNTAX_ERROR)

# Typed at Ammonite's own prompt: a short line, and the mark never appears in its echo.
LOAD_SETUP = (
    "repl.load(new String(java.nio.file.Files.readAllBytes("
    'java.nio.file.Paths.get(sys.env("SPARKSTUDIO_REPL_SETUP"))), "UTF-8"))\r'
)

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_RESETS = ("\x1b[39m", "\x1b[0m", "\x1b[m")
_EXCEPTION = re.compile(
    r"^(?P<cls>(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)[\w$]*)"
    r"(?::\s?(?P<message>.*))?$"
)
_COMPILE_POSITION = re.compile(r"^cmd\d+\.sc:(?P<line>\d+): ")
# Ammonite's prompt again after an error (red, default colours) while loading the setup.
_SETUP_FAILED = re.compile(r"\x1b\[31m.*scala> ", re.DOTALL)


class ReplError(RuntimeError):
    """The REPL could not be started, or died."""


@dataclass(frozen=True)
class CellError:
    ename: str
    evalue: str
    traceback: list[str]


def classify_error(lines: list[str]) -> CellError:
    """Name what Ammonite printed in its error colour."""
    first = lines[0]
    if lines[-1].strip() == "Compilation Failed":
        message = _COMPILE_POSITION.sub(lambda m: f"line {m['line']}: ", first)
        return CellError("CompileError", message, lines)
    if first.startswith(SYNTAX_ERROR):
        return CellError("SyntaxError", first.removeprefix(SYNTAX_ERROR), lines)
    if first.startswith("Interrupted!"):
        return CellError("Interrupted", "the cell was interrupted", lines)
    match = _EXCEPTION.match(first)
    if match:
        return CellError(match["cls"].rsplit(".", 1)[-1], match["message"] or "", lines)
    return CellError("Error", first, lines)


@dataclass
class OutputScanner:
    """Splits one cell's REPL output into stream text and the error, up to the ready mark.

    Works on whole lines; Ammonite's blank line after every command and blank lines at the
    start are dropped (blank lines between output lines are kept).
    """

    ready: str
    done: bool = False
    _partial: str = ""
    _mode: str = "stdout"  # or "stderr" (warning, info), "error" (to the end of the cell)
    _blanks: int = 0
    _started: bool = False
    _error: list[str] = field(default_factory=list)

    def feed(self, text: str) -> list[tuple[str, str]]:
        """The (stream name, text) pieces to show for ``text``."""
        events: list[tuple[str, str]] = []
        lines = (self._partial + text.replace("\r", "")).split("\n")
        self._partial = lines.pop()
        if self.ready in self._partial:  # the mark is followed by a newline; do not rely on it
            lines.append(self._partial)
            self._partial = ""
        for line in lines:
            if self.done:
                break
            self._line(line, events)
        return events

    def error(self) -> CellError | None:
        lines = [line.rstrip() for line in self._error]
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:
            lines.pop(0)
        return classify_error(lines) if lines else None

    def _line(self, line: str, events: list[tuple[str, str]]) -> None:
        at = line.find(self.ready)
        if at >= 0:
            self.done = True
            line = line[:at]
            if not line:
                return
        parts: dict[str, list[str]] = {"stdout": [], "stderr": [], "error": []}
        position = 0
        for match in _ANSI.finditer(line):
            parts[self._mode].append(line[position : match.start()])
            self._switch(match.group())
            position = match.end()
        parts[self._mode].append(line[position:])
        out, notice = "".join(parts["stdout"]), "".join(parts["stderr"])
        if out.strip():
            held = "\n" * self._blanks if self._started else ""
            events.append(("stdout", f"{held}{out}\n"))
            self._started, self._blanks = True, 0
        elif not (notice or parts["error"]) and self._mode == "stdout":
            self._blanks += 1
        if notice.strip():
            events.append(("stderr", notice + "\n"))
        if self._mode == "error" or any(parts["error"]):
            self._error.append("".join(parts["error"]))

    def _switch(self, escape: str) -> None:
        if escape == ERROR_SGR:
            self._mode = "error"  # sticky: stack traces reset and re-set the colour
        elif self._mode != "error" and escape in NOTICE_SGRS:
            self._mode = "stderr"
        elif self._mode == "stderr" and escape in _RESETS:
            self._mode = "stdout"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sparkstudio" / "scala-kernel"


def rt_jar_cache(java: Path) -> Path:
    """Where the JDK's classes exported as a jar (for scalac) are kept, per Java install.

    Ammonite exports them on every start (~10 s of deflating) unless
    ``sun.boot.class.path`` names them: the first REPL's export is kept for the next.
    """
    real = java.resolve()
    modules = real.parent.parent / "lib" / "modules"
    stat = (modules if modules.exists() else real).stat()
    key = hashlib.sha256(f"{real}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return cache_dir() / f"rt-{key[:16]}.jar"


def _argfile_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class ScalaRepl:
    """One Connect REPL JVM in a pty, in a session (process group) of its own."""

    url: str
    generation: int
    child: pexpect.spawn
    mark: str
    workdir: Path
    busy: bool = False

    @classmethod
    def start(cls, url: str, generation: int, interrupted: Callable[[], bool]) -> ScalaRepl:
        home = find_spark_home()
        java = find_java()
        if java is None:
            raise ReplError("no java found (set JAVA_HOME or put java on the PATH)")
        workdir = Path(tempfile.mkdtemp(prefix="sparkstudio-scala-"))
        try:
            argv, rt_cache = cls._command(home, java, workdir)
            mark = secrets.token_hex(16)
            env = home.environment(
                SPARK_REMOTE=url,  # the token stays off the command line
                TERM="dumb",
                SPARKSTUDIO_REPL_MARK=mark,
                SPARKSTUDIO_KERNEL_PID=str(os.getpid()),
                SPARKSTUDIO_REPL_SETUP=str(workdir / "setup.sc"),
            )
            child = pexpect.spawn(
                argv[0],
                argv[1:],
                env=env,
                cwd=os.getcwd(),
                encoding="utf-8",
                codec_errors="replace",
                echo=False,
                dimensions=(50, 250),
            )
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        # Raw: no echo, no line editing or length limit, no ^C signals, "\n" stays "\n".
        tty.setraw(child.child_fd)
        repl = cls(url, generation, child, mark, workdir)
        try:
            repl._await_setup(interrupted)
        except BaseException:
            repl.stop()
            raise
        if rt_cache is not None:
            repl._keep_rt_jar(rt_cache)
        return repl

    @staticmethod
    def _command(home: SparkHome, java: Path, workdir: Path) -> tuple[list[str], Path | None]:
        """The JVM's argv, and where to keep the rt jar it will export (None: cached)."""
        (workdir / "tmp").mkdir()
        (workdir / "setup.sc").write_text(SETUP_SCALA)
        (workdir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        jars = sorted((home.jars / "connect-repl").glob("*.jar")) + sorted(home.jars.glob("*.jar"))
        classpath = os.pathsep.join(str(jar) for jar in jars)
        options = [
            f"-Djava.io.tmpdir={workdir / 'tmp'}",
            f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}",
        ]
        rt_cache: Path | None = rt_jar_cache(java)
        if rt_cache is not None and _valid_jar(rt_cache):
            # With this property set, Ammonite's compiler classpath is exactly its entries.
            options.append(f"-Dsun.boot.class.path={rt_cache}{os.pathsep}{classpath}")
            rt_cache = None
        options += ["-cp", classpath]
        # An argument file keeps the ~300 jar paths out of the process list.
        argfile = workdir / "jvm.args"
        argfile.write_text("\n".join(_argfile_quote(option) for option in options) + "\n")
        return [str(java), *JVM_OPTIONS, f"@{argfile}", CONNECT_REPL_CLASS], rt_cache

    def _await_setup(self, interrupted: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        seen = ""
        for wanted in ("scala> ", f"{self.mark}:ready"):
            while wanted not in seen:
                if interrupted():
                    raise ReplError("interrupted while the Scala REPL was starting")
                if time.monotonic() > deadline:
                    raise ReplError(self._failure(f"did not start in {START_TIMEOUT:.0f} s", seen))
                try:
                    seen = (seen + self.child.read_nonblocking(65536, timeout=POLL))[-200_000:]
                except pexpect.TIMEOUT:
                    continue
                except pexpect.EOF:
                    raise ReplError(self._failure("exited while starting", seen)) from None
                if wanted != "scala> " and _SETUP_FAILED.search(seen):
                    raise ReplError(self._failure("could not load the kernel's setup code", seen))
            if wanted == "scala> ":
                seen = ""
                self._write(LOAD_SETUP)

    def _failure(self, what: str, output: str) -> str:
        lines = [line for line in _ANSI.sub("", output.replace("\r", "")).splitlines() if line]
        return f"The Scala REPL {what}:\n" + "\n".join(lines[-40:])

    def _keep_rt_jar(self, target: Path) -> None:
        exported = sorted((self.workdir / "tmp").glob("rt*.jar"))
        if not exported or not _valid_jar(exported[0]):
            return
        with contextlib.suppress(OSError):  # a cache: the next start just exports again
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}")
            shutil.copyfile(exported[0], partial)
            os.replace(partial, target)

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def alive(self) -> bool:
        return bool(self.child.isalive())

    def run(
        self, code: str, emit: Callable[[str, str], None], interrupts: Callable[[], int]
    ) -> CellError | None:
        """Run one cell, passing its output to ``emit`` as it comes; its error, if any."""
        body = code.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
        scanner = OutputScanner(f"{self.mark}:ready")
        self.busy = True
        try:
            self._write(f"{self.mark}:run\n{body}\n{self.mark}:end\n")
            sent = interrupts()
            while not scanner.done:
                if interrupts() > sent:
                    sent = interrupts()
                    self._write(f"{self.mark}:interrupt\n")
                try:
                    text = self.child.read_nonblocking(65536, timeout=POLL)
                except pexpect.TIMEOUT:
                    continue
                except (pexpect.EOF, OSError):
                    raise ReplError(f"The Scala REPL exited ({self._exit_status()}).") from None
                for name, piece in scanner.feed(text):
                    emit(name, piece)
        finally:
            self.busy = False
        return scanner.error()

    def _write(self, text: str) -> None:
        data = text.encode()
        while data:
            written = os.write(self.child.child_fd, data)
            data = data[written:]

    def _exit_status(self) -> str:
        with contextlib.suppress(Exception):
            self.child.close(force=True)
        if self.child.signalstatus:
            return f"killed by signal {self.child.signalstatus}"
        return f"exit code {self.child.exitstatus}"

    def stop(self) -> None:
        """Close the Spark session and end the JVM (its whole process group if need be)."""
        try:
            if self.child.isalive() and not self.busy:
                with contextlib.suppress(OSError):
                    self._write(f"{self.mark}:exit\n")
                with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF, OSError):
                    self.child.expect(pexpect.EOF, timeout=EXIT_GRACE)
            for signum, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                if not self.child.isalive():
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signum)
                deadline = time.monotonic() + wait
                while self.child.isalive() and time.monotonic() < deadline:
                    time.sleep(0.05)
            with contextlib.suppress(Exception):
                self.child.close(force=True)  # reaps it: no zombie left behind
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _valid_jar(path: Path) -> bool:
    try:
        return path.is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False
