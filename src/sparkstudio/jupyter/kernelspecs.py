"""The kernel specs a workspace server offers beside Python 3: PySpark and Spark (Scala)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def kernelspecs(python: str) -> dict[str, dict[str, Any]]:
    return {
        "pyspark": {
            "argv": [python, "-m", "sparkstudio.jupyter.pyspark_kernel", "-f", "{connection_file}"],
            "display_name": "PySpark",
            "language": "python",
            "metadata": {"debugger": False},
        },
        "spark-scala": {
            "argv": [python, "-m", "sparkstudio.jupyter.scala_kernel", "-f", "{connection_file}"],
            "display_name": "Spark (Scala)",
            "language": "scala",
            "metadata": {"debugger": False},
        },
    }


def write_kernelspecs(data_dir: Path, python: str = sys.executable) -> None:
    """Write the specs under ``data_dir/kernels`` (a directory on JUPYTER_PATH)."""
    for name, spec in kernelspecs(python).items():
        directory = data_dir / "kernels" / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "kernel.json").write_text(json.dumps(spec, indent=1))
