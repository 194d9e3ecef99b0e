"""The process a notebook execution runs in: ``python -m sparkstudio.notebooks.runner DIR``.

It reads ``DIR/job.json``, runs the notebook with papermill in the PySpark kernel (whose
``spark`` is a Spark Connect session on the execution's target, opened as its user),
renders the executed notebook as HTML, and writes ``DIR/exit.json``
(``{"code": …, "error": …}``). The executed notebook is saved after every cell, so a
stopped or failed execution keeps what ran.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from sparkstudio.jupyter.attachment import (
    ATTACHMENT_FILE_ENV,
    USER_ENV,
    Attachment,
    write_attachment,
)
from sparkstudio.jupyter.kernelspecs import write_kernelspecs
from sparkstudio.runners import EXIT_FILE, JOB_FILE, write_json

KERNEL = "pyspark"


def prepare_kernel(folder: Path, job: dict[str, Any]) -> None:
    """The PySpark kernel's spec and its attachment to the target, for this process's
    kernels (papermill starts them with this environment)."""
    jupyter = folder / "jupyter"
    write_kernelspecs(jupyter)
    attachment = folder / "attachment.json"
    write_attachment(
        Attachment(
            generation=1,
            cluster_id=job["target_id"],
            cluster_name=job["target_name"],
            connect_url=job["connect_url"],
            token=job["token"],
        ),
        attachment,
    )
    os.environ.update(job.get("environment", {}))
    os.environ.update(
        {
            "JUPYTER_PATH": str(jupyter),
            ATTACHMENT_FILE_ENV: str(attachment),
            USER_ENV: job["user"],
        }
    )


def render_html(notebook: Path, html: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(notebook))  # type: ignore[no-untyped-call]
    html.write_text(body, encoding="utf-8")


def run(folder: Path) -> tuple[int, str]:
    import papermill  # type: ignore[import-untyped]
    from papermill.exceptions import PapermillExecutionError  # type: ignore[import-untyped]

    job: dict[str, Any] = json.loads((folder / JOB_FILE).read_text())
    prepare_kernel(folder, job)
    output, html = Path(job["output"]), Path(job["html"])
    code, error = 0, ""
    try:
        papermill.execute_notebook(
            job["input"],
            str(output),
            parameters=job.get("parameters") or None,
            kernel_name=KERNEL,
            progress_bar=False,
            cwd=str(folder),
        )
    except PapermillExecutionError as failure:
        code = 1
        error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"[:2000]
    except Exception as failure:  # the notebook could not be run at all
        code = 2
        error = f"{type(failure).__name__}: {failure}"[:2000]
    if output.exists():
        try:
            render_html(output, html)
        except Exception as failure:  # the notebook stands; say why there is no HTML
            error = error or f"HTML rendering failed: {failure}"[:2000]
    return code, error


def main(argv: list[str]) -> None:
    folder = Path(argv[0])
    code, error = run(folder)
    write_json(folder / EXIT_FILE, {"code": code, "error": error})
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
