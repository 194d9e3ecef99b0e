"""The PySpark kernel: IPython in which ``spark`` is a session on the attached cluster.

``python -m sparkstudio.jupyter.pyspark_kernel -f <connection file>``
"""

from __future__ import annotations

import sys

from ipykernel.kernelapp import IPKernelApp


def main(argv: list[str] | None = None) -> None:
    app = IPKernelApp.instance()
    app.initialize(argv if argv is not None else sys.argv[1:])
    from sparkstudio.jupyter.magics import install

    assert app.shell is not None
    install(app.shell)
    app.start()


if __name__ == "__main__":
    main()
