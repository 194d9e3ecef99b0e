"""Notebook executions: EMR's StartNotebookExecution, on a cluster or an application."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, Strict, StringConstraints, model_validator

from sparkstudio.schemas.common import (
    STORAGE_PATTERN,
    STORAGE_RULE,
    TEXT_PATTERN,
    PublicModel,
    StatusReason,
    StrictModel,
    Tags,
)

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
TargetKind = Literal["CLUSTER", "APPLICATION"]
StoreUri = Annotated[
    str,
    Strict(),
    StringConstraints(max_length=1024, pattern=STORAGE_PATTERN),
    Field(description=STORAGE_RULE),
]


class NotebookSource(StrictModel):
    """A notebook in a workspace's files (``workspace_id`` and ``path``) or at ``uri``."""

    workspace_id: Annotated[str, Strict(), StringConstraints(max_length=24)] | None = None
    path: (
        Annotated[
            str,
            Strict(),
            StringConstraints(min_length=1, max_length=1024, pattern=TEXT_PATTERN),
            Field(description="The notebook's path in the workspace, e.g. 'reports/daily.ipynb'."),
        ]
        | None
    ) = None
    uri: (
        Annotated[
            str,
            Strict(),
            StringConstraints(max_length=1024, pattern=STORAGE_PATTERN),
            Field(description=f"The notebook in the object store: {STORAGE_RULE}."),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _one_source(self) -> NotebookSource:
        in_workspace = self.workspace_id is not None or self.path is not None
        if in_workspace == (self.uri is not None):
            raise ValueError("give either workspace_id and path, or uri")
        if in_workspace and (self.workspace_id is None or self.path is None):
            raise ValueError("a notebook in a workspace needs both workspace_id and path")
        name = self.path or self.uri or ""
        if not name.endswith(".ipynb"):
            raise ValueError(f"a notebook's name ends with .ipynb (got {name!r})")
        return self


class ExecutionTarget(StrictModel):
    kind: TargetKind = Field(description="CLUSTER (RUNNING or WAITING) or APPLICATION.")
    id: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=24)]


class ExecutionSpec(StrictModel):
    """What a notebook execution runs, where, and with what: a start, or each run of a
    schedule."""

    notebook: NotebookSource
    parameters: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], JsonValue],
        Field(
            max_length=100,
            description="Injected the papermill way: after the cell tagged 'parameters', "
            "or at the top.",
        ),
    ] = Field(default_factory=dict)
    environment_variables: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)],
            Annotated[str, Strict(), StringConstraints(max_length=4096)],
        ],
        Field(max_length=100, description="Set in the notebook's kernel; values never shown."),
    ] = Field(default_factory=dict)
    target: ExecutionTarget
    output_location: StoreUri | None = Field(
        default=None,
        description="Where the executed notebook and its HTML go; the studio's storage "
        "(notebook-executions/) when omitted.",
    )
    timeout_minutes: Annotated[
        int, Strict(), Field(ge=0, le=10080, description="Stop it after this long; 0: never.")
    ] = 0
    tags: Tags = Field(default_factory=dict)


class NotebookExecutionCreate(ExecutionSpec):
    name: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=256)] | None = None


class NotebookExecutionPublic(PublicModel):
    id: str
    studio_id: str
    name: str
    created_by: str
    notebook: NotebookSource
    parameters: dict[str, Any]
    environment_variable_names: list[str]
    target: ExecutionTarget
    output_location: str
    timeout_minutes: int
    tags: dict[str, str]
    status: str
    status_reason: StatusReason
    output_notebook_uri: str = Field(description="The executed notebook (.ipynb), once written.")
    output_html_uri: str = Field(description="Its HTML rendering, once written.")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    schedule_id: str | None = Field(description="The schedule that started it, if one did.")
    scheduled_for: datetime | None = Field(
        description="The due time it ran for (run now: when it was asked for)."
    )
