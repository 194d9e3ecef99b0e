"""Release labels: which Spark an application runs.

Only the Spark installed with sparkstudio can run, so the labels name it honestly
(``spark-4.3`` and ``spark-4.3.0``); EMR's ``emr-…`` labels ship other Spark versions
and are not accepted.
"""

from __future__ import annotations

from functools import cache

from sparkstudio.errors import Invalid
from sparkstudio.spark.home import SparkNotFound, find_spark_home


@cache
def supported_release_labels() -> dict[str, str]:
    """Each supported label → the Spark version it runs (empty when no Spark is installed)."""
    try:
        version = find_spark_home().version
    except SparkNotFound:
        return {}
    major_minor = ".".join(version.split(".")[:2])
    return {f"spark-{major_minor}": version, f"spark-{version}": version}


def check_release_label(label: str) -> str:
    """``label`` if this host runs it; a 422 naming ``release_label`` and the choices otherwise."""
    supported = supported_release_labels()
    if label in supported:
        return label
    if not supported:
        raise Invalid.field("release_label", "no Spark is installed on this host")
    choices = ", ".join(supported)
    raise Invalid.field("release_label", f"must be one of: {choices} (got {label!r})")
