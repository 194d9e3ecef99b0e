from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from sparkstudio.schemas.common import Description, Name, PublicModel, StrictModel

STORAGE_RULE = "a 'file:///absolute/path' or 's3://bucket[/prefix]' URI"


def _check_storage(uri: str) -> str:
    if uri.startswith("file:///") and "/../" not in uri + "/" and "\x00" not in uri:
        return uri.rstrip("/") or "file:///"
    if uri.startswith("s3://"):
        bucket = uri[5:].split("/", 1)[0]
        if 3 <= len(bucket) <= 63 and all(c.isalnum() or c in ".-" for c in bucket):
            return uri.rstrip("/")
    raise ValueError(f"must be {STORAGE_RULE}")


StorageLocation = Annotated[
    str,
    Field(max_length=1024, pattern=r"^[\x21-\x7e]+$", description=STORAGE_RULE),
    AfterValidator(_check_storage),
]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a network")
    return values


Networks = Annotated[
    list[Name],
    Field(min_length=1, max_length=16, description="1 to 16 distinct network names."),
    AfterValidator(_unique),
]


class StudioCreate(StrictModel):
    name: Name
    description: Description = ""
    storage_location: StorageLocation | None = Field(
        default=None, description="Default storage of the studio; under the home when omitted."
    )
    networks: Networks | None = Field(
        default=None, description="Networks the studio's workspaces may use; 'default' if omitted."
    )


class StudioUpdate(StrictModel):
    description: Description | None = None
    storage_location: StorageLocation | None = None
    networks: Networks | None = None


class StudioPublic(PublicModel):
    id: str
    name: str
    description: str
    storage_location: str
    networks: list[str]
    created_at: datetime
    updated_at: datetime
