"""A workspace server's entry point: ``python -m sparkstudio.jupyter.launch --config=…``.

It is JupyterLab's own ``main``, less one optional import. jupyter_events requires
``jsonschema[format-nongpl]``, whose format checker imports ``rfc3987_syntax`` when it is
installed, and that import compiles a grammar: about 1.5 s, half of a workspace's start.
The checker only serves the ``iri`` formats, which no Jupyter event schema uses, and
jsonschema skips it when the import fails.
"""

from __future__ import annotations

import sys


def main() -> None:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from jupyterlab.labapp import main as lab_main  # type: ignore[import-untyped]

    sys.exit(lab_main())


if __name__ == "__main__":
    main()
