"""The cluster spec a template resolves to: what a compute backend is asked to launch."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sparkstudio.schemas.common import Tags
from sparkstudio.templates.problems import explain, from_validation_error, invalid, show

# (low, high) of every integer field; dependent bounds are checked by the validators below.
LIMITS: dict[str, tuple[int, int]] = {
    "workers_min": (0, 64),
    "workers_max": (1, 64),
    "worker_cores": (1, 64),
    "worker_memory_mib": (512, 262144),
    "executor_cores": (1, 64),
    "executor_memory_mib": (256, 262144),
    "driver_memory_mib": (512, 262144),
    "idle_timeout_seconds": (60, 604800),
}
RULES: dict[str, str] = {
    "workers_min": "an integer from 0 to 64",
    "workers_max": "an integer from 1 to 64, at least workers_min",
    "worker_cores": "an integer from 1 to 64",
    "worker_memory_mib": "an integer from 512 to 262144",
    "executor_cores": "an integer from 1 to 64, at most worker_cores",
    "executor_memory_mib": "an integer from 256 to 262144, at most worker_memory_mib",
    "driver_memory_mib": "an integer from 512 to 262144",
    "idle_timeout_seconds": "an integer from 60 to 604800 (1 minute to 7 days)",
}
CapacityType = Literal["ON_DEMAND", "PREEMPTIBLE"]

SPARK_KEY_PATTERN = re.compile(r"^spark\.[A-Za-z0-9_.\-]{1,250}$")
MAX_CONF_ENTRIES = 200
MAX_CONF_VALUE = 4096
# Keys the platform sets itself (addresses, ports, event logs, authentication).
PLATFORM_KEYS = frozenset(
    {
        "spark.master",
        "spark.remote",
        "spark.driver.host",
        "spark.driver.bindAddress",
        "spark.driver.port",
        "spark.ui.port",
        "spark.ui.reverseProxy",
        "spark.ui.reverseProxyUrl",
        "spark.eventLog.enabled",
        "spark.eventLog.dir",
    }
)
PLATFORM_PREFIXES = ("spark.connect.grpc.binding",)
SECRET_WORDS = ("authenticate", "token", "secret", "password")
SPEC_FIELD_KEYS = {
    "spark.executor.cores": "executor_cores",
    "spark.executor.memory": "executor_memory_mib",
}


def _bounded(name: str, description: str) -> Any:
    low, high = LIMITS[name]
    return Field(ge=low, le=high, description=f"{description}; {RULES[name]}.")


def spark_conf_problems(conf: dict[str, str]) -> list[str]:
    """Why each key of ``conf`` may not be set by a template (empty when all are fine)."""
    problems: list[str] = []
    if len(conf) > MAX_CONF_ENTRIES:
        problems.append(f"at most {MAX_CONF_ENTRIES} entries (got {len(conf)})")
    for key, value in conf.items():
        lowered = key.lower()
        if not SPARK_KEY_PATTERN.match(key):
            problems.append(
                f"{show(key)}: keys must start with 'spark.' and use letters, digits, '.', '_', '-'"
            )
        elif key in SPEC_FIELD_KEYS:
            problems.append(f"{key}: set {SPEC_FIELD_KEYS[key]} instead")
        elif key in PLATFORM_KEYS or key.startswith(PLATFORM_PREFIXES):
            problems.append(f"{key}: set by the platform; remove it from the template")
        elif any(word in lowered for word in SECRET_WORDS):
            problems.append(
                f"{key}: authentication and secrets are managed by the platform; remove it"
            )
        elif len(value) > MAX_CONF_VALUE:
            problems.append(f"{key}: values are at most {MAX_CONF_VALUE} characters")
    return problems


StrictInt = Annotated[int, Strict()]


class ClusterSpec(BaseModel):
    """A validated cluster request; templates resolve to it, backends launch it."""

    model_config = ConfigDict(extra="forbid")

    workers_min: Annotated[StrictInt, _bounded("workers_min", "Workers kept running")]
    workers_max: Annotated[StrictInt, _bounded("workers_max", "Most workers to scale to")]
    worker_cores: Annotated[StrictInt, _bounded("worker_cores", "Cores per worker")]
    worker_memory_mib: Annotated[
        StrictInt, _bounded("worker_memory_mib", "Memory per worker in MiB")
    ]
    executor_cores: Annotated[StrictInt, _bounded("executor_cores", "Cores per executor")]
    executor_memory_mib: Annotated[
        StrictInt, _bounded("executor_memory_mib", "Memory per executor in MiB")
    ]
    driver_memory_mib: Annotated[
        StrictInt, _bounded("driver_memory_mib", "Heap of the Spark Connect driver in MiB")
    ] = 512
    spark_conf: dict[Annotated[str, Strict()], Annotated[str, Strict()]] = Field(
        default_factory=dict,
        description="Extra Spark properties; keys start with 'spark.'; "
        "addresses, ports, event logs and authentication are set by the platform.",
    )
    capacity_type: CapacityType = "ON_DEMAND"
    idle_timeout_seconds: Annotated[
        StrictInt, _bounded("idle_timeout_seconds", "Stop after this long idle")
    ] = 3600
    tags: Tags = Field(default_factory=dict)

    @field_validator("workers_max")
    @classmethod
    def _at_least_workers_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("workers_min")
        if low is not None and value < low:
            raise ValueError(f"must be {RULES['workers_max']} ({low}) (got {value})")
        return value

    @field_validator("executor_cores")
    @classmethod
    def _fits_worker_cores(cls, value: int, info: ValidationInfo) -> int:
        high = info.data.get("worker_cores")
        if high is not None and value > high:
            raise ValueError(f"must be {RULES['executor_cores']} ({high}) (got {value})")
        return value

    @field_validator("executor_memory_mib")
    @classmethod
    def _fits_worker_memory(cls, value: int, info: ValidationInfo) -> int:
        high = info.data.get("worker_memory_mib")
        if high is not None and value > high:
            raise ValueError(f"must be {RULES['executor_memory_mib']} ({high}) (got {value})")
        return value

    @field_validator("spark_conf")
    @classmethod
    def _template_may_set(cls, value: dict[str, str]) -> dict[str, str]:
        problems = spark_conf_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


_INTEGER_ERRORS = frozenset(
    {"int_type", "int_parsing", "int_from_float", "greater_than_equal", "less_than_equal"}
)


def _explain_spec(error: Any) -> str:
    field = str(error["loc"][0]) if error.get("loc") else ""
    if field in RULES and error.get("type") in _INTEGER_ERRORS:
        return f"must be {RULES[field]} (got {show(error.get('input'))})"
    return explain(error, ClusterSpec)


def build_spec(data: object, prefix: str = "cluster") -> ClusterSpec:
    """Validate ``data`` as a :class:`ClusterSpec`; problems are one ``Invalid`` per field."""
    try:
        return ClusterSpec.model_validate(data)
    except ValidationError as error:
        fields = from_validation_error(error, ClusterSpec, prefix)
        problems = [
            (field, _explain_spec(e)) for (field, _), e in zip(fields, error.errors(), strict=True)
        ]
        raise invalid(problems) from None
