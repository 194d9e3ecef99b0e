"""The PySpark kernel's magics: ``%%sql``, ``%cluster``, ``%attach`` and ``%detach``."""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from sparkstudio.jupyter.agent import change_attachment
from sparkstudio.jupyter.spark_session import LazySpark, NotAttachedError, SparkHolder

DEFAULT_SQL_ROWS = 1000


@magics_class
class SparkMagics(Magics):
    def __init__(self, shell: InteractiveShell, holder: SparkHolder) -> None:
        super().__init__(shell)
        self.holder = holder

    @line_magic
    def cluster(self, line: str) -> None:
        """Show the cluster this workspace is attached to."""
        self.holder.follow()
        print(f"This workspace is {self.holder.attachment.describe()}.")

    @line_magic
    def attach(self, line: str) -> None:
        """%attach <cluster name or id>: attach the workspace (every kernel follows)."""
        cluster = line.strip()
        if not cluster:
            raise ValueError("usage: %attach <cluster name or id>")
        self._change_attachment(cluster)

    @line_magic
    def detach(self, line: str) -> None:
        """Detach the workspace from its cluster."""
        self._change_attachment(None)

    def _change_attachment(self, cluster: str | None) -> None:
        change_attachment(cluster, self.holder.user)
        print(self.holder.follow() or f"This workspace is {self.holder.attachment.describe()}.")

    @magic_arguments()
    @argument("-n", "--limit", type=int, default=DEFAULT_SQL_ROWS, help="Rows to show.")
    @argument("-o", "--output", default="", help="Also keep the DataFrame in this variable.")
    @cell_magic
    def sql(self, line: str, cell: str) -> None:
        """Run the cell as Spark SQL and show the result as a table."""
        args = parse_argstring(self.sql, line)
        frame = self.holder.session().sql(cell)
        if args.output and self.shell is not None:
            self.shell.user_ns[args.output] = frame
        rows: Any = frame.limit(args.limit + 1).toPandas()
        if len(rows) > args.limit:
            print(f"Showing the first {args.limit} rows (-n to show more).")
            rows = rows.head(args.limit)
        display(rows)


def _before_cell(holder: SparkHolder) -> Any:
    def announce(info: Any = None) -> None:
        message = holder.follow()
        if message:
            print(message)

    return announce


def _not_attached(
    shell: InteractiveShell, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    # One clear line instead of a traceback through `spark`. IPython ignores what a
    # custom handler returns: show it (ipykernel sends it as the cell's error output).
    lines = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, lines)
    return lines


def install(shell: InteractiveShell, holder: SparkHolder | None = None) -> SparkHolder:
    """Bind ``spark`` and the magics in ``shell``."""
    holder = holder or SparkHolder()
    shell.user_ns["spark"] = LazySpark(holder)
    shell.register_magics(SparkMagics(shell, holder))
    shell.events.register("pre_run_cell", _before_cell(holder))
    shell.set_custom_exc((NotAttachedError,), _not_attached)
    holder.warm_up()
    return holder


def load_ipython_extension(shell: InteractiveShell) -> None:
    install(shell)
