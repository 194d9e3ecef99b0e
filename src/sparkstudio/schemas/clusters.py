from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, Strict, StringConstraints

from sparkstudio.schemas.common import Name, PublicModel, StatusReason, StrictModel, Tags
from sparkstudio.templates.spec import LIMITS, RULES, ClusterSpec

ParameterValue = (
    Annotated[str, Strict(), StringConstraints(max_length=1024)]
    | Annotated[int, Strict()]
    | Annotated[float, Strict()]
    | Annotated[bool, Strict()]
)
IdleTimeout = Annotated[
    int,
    Strict(),
    Field(
        ge=LIMITS["idle_timeout_seconds"][0],
        le=LIMITS["idle_timeout_seconds"][1],
        description=RULES["idle_timeout_seconds"],
    ),
]
Workers = Annotated[int, Strict(), Field(ge=0, le=LIMITS["workers_max"][1])]
CONNECT_URL_PATTERN = r"^sc://[A-Za-z0-9.\-\[\]:]{1,255}(/;[\x21-\x7e]*)?$"
CONNECT_URL_RULE = "a Spark Connect URL: sc://host:port, optionally followed by /;key=value;…"


class _ClusterBase(StrictModel):
    name: Name
    network: Name | None = Field(
        default=None, description="One of the studio's networks; its first one when omitted."
    )
    tags: Tags = Field(
        default_factory=dict, description="Cost allocation tags, added to the template's."
    )


class ClusterCreate(_ClusterBase):
    """Launch from a template shared with the studio."""

    template: Name = Field(description="Name of a template shared with the studio.")
    template_version: Annotated[int, Strict(), Field(ge=1)] | None = Field(
        default=None, description="A published version; the latest when omitted."
    )
    parameters: dict[Annotated[str, StringConstraints(max_length=64)], ParameterValue] = Field(
        default_factory=dict,
        max_length=50,
        description="Values of the template's parameters; the others take their defaults.",
    )
    idle_timeout_seconds: IdleTimeout | None = Field(
        default=None, description="Overrides the template's idle timeout."
    )


class ClusterCreateFromSpec(_ClusterBase):
    """Launch from a raw spec (a stronger permission than launching from a template)."""

    spec: ClusterSpec


class ClusterRegister(_ClusterBase):
    """An existing Spark Connect endpoint, registered as a cluster (bring your own Spark)."""

    connect_url: Annotated[str, StringConstraints(pattern=CONNECT_URL_PATTERN, max_length=512)] = (
        Field(description=CONNECT_URL_RULE)
    )
    token: SecretStr | None = Field(
        default=None, max_length=512, description="The endpoint's authentication token, if any."
    )
    ui_url: AnyHttpUrl | None = Field(
        default=None, description="The Spark UI of the endpoint's driver, if reachable."
    )


class ClusterScale(StrictModel):
    workers_min: Workers = Field(description="Workers always kept running.")
    workers_max: Workers = Field(
        description="Most workers managed scaling may run; at most the spec's workers_max."
    )


class WorkerCounts(BaseModel):
    min: int
    max: int
    running: int


class TemplateRef(BaseModel):
    name: str
    version: int


class ClusterPublic(PublicModel):
    id: str
    studio_id: str
    name: str
    owner_id: str | None = Field(description="None once the owner's user was deleted.")
    owner: str = Field(description="Name of the user who launched it.")
    network: str
    backend: str
    template: TemplateRef | None
    parameters: dict[str, Any]
    spec: dict[str, Any]
    tags: dict[str, str]
    workers: WorkerCounts
    idle_timeout_seconds: int
    status: str
    target: str
    status_reason: StatusReason
    connect_url: str = Field(description="Spark Connect address, without credentials.")
    ui_path: str = Field(description="The live Spark UI, through the control plane.")
    history_path: str = Field(description="This cluster's application in the history server.")
    app_id: str
    last_activity_at: datetime
    ready_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ClusterConnection(BaseModel):
    """What a Spark Connect client needs: ``SparkSession.builder.remote(url)``."""

    cluster_id: str
    url: str = Field(
        description="sc:// URL of the platform's Spark Connect front with a token of yours "
        "and your user id; the session it opens goes on after the token expires."
    )
    user_id: str
    expires_at: datetime = Field(description="A new session needs a new token after this.")


class UsageRow(BaseModel):
    key: str
    clusters: int
    core_seconds: float
    memory_gb_seconds: float


class UsageReport(BaseModel):
    studio_id: str
    since: datetime
    until: datetime
    group_by: str
    rows: list[UsageRow]
    total: UsageRow


class QuotasUpdate(StrictModel):
    max_clusters: Annotated[int, Strict(), Field(ge=0, le=10000)] | None = None
    max_cores: Annotated[int, Strict(), Field(ge=0, le=1_000_000)] | None = None
    max_memory_mib: Annotated[int, Strict(), Field(ge=0, le=1_000_000_000)] | None = None


class QuotasPublic(BaseModel):
    """Limits (None: none) and what the studio's clusters that are not terminated use."""

    max_clusters: int | None
    max_cores: int | None
    max_memory_mib: int | None
    clusters: int
    cores: int
    memory_mib: int
