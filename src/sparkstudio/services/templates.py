"""Published cluster templates: versions, shares with studios, and the built-in ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.db.models import ClusterTemplate, Studio, TemplateShare, TemplateVersion
from sparkstudio.errors import Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.schemas.common import Page
from sparkstudio.schemas.templates import TemplateDetail, TemplatePublic, TemplateSummary
from sparkstudio.services.common import flush_or_conflict, page
from sparkstudio.templates import (
    FunctionRegistry,
    Template,
    builtin_names,
    builtin_text,
    describe_parameters,
    load_template,
)

BUILTIN_PUBLISHER = "sparkstudio"


@dataclass(frozen=True)
class LoadedVersion:
    row: ClusterTemplate
    version: TemplateVersion
    template: Template


def publish(
    db: Session, text: str, actor: str, registry: FunctionRegistry | None = None
) -> TemplateVersion:
    """Check ``text`` and store it as the next version of the template it names."""
    template = load_template(text, registry=registry)  # Invalid names each problem
    row = find_template(db, template.name)
    if row is None:
        row = ClusterTemplate(
            id=new_id("tpl"), name=template.name, description=template.description
        )
        db.add(row)
        number = 1
    else:
        number = row.latest_version + 1
        row.description = template.description
    row.latest_version = number
    version = TemplateVersion(template=row, version=number, body=text, published_by=actor)
    db.add(version)
    flush_or_conflict(db, f"template '{template.name}' was published concurrently; retry")
    return version


def ensure_builtin_templates(db: Session) -> list[str]:
    """Publish the shipped templates that are not published yet; returns their names."""
    published = []
    for name in builtin_names():
        if find_template(db, name) is None:
            publish(db, builtin_text(name), BUILTIN_PUBLISHER)
            published.append(name)
    return published


def find_template(db: Session, name: str) -> ClusterTemplate | None:
    return db.scalars(select(ClusterTemplate).where(ClusterTemplate.name == name)).first()


def get_template_or_404(db: Session, name: str) -> ClusterTemplate:
    row = find_template(db, name)
    if row is None:
        raise NotFound(f"no template '{name}'")
    return row


def load_version(
    db: Session,
    row: ClusterTemplate,
    version: int | None,
    registry: FunctionRegistry | None = None,
    *,
    field: str = "version",
) -> LoadedVersion:
    number = version or row.latest_version
    stored = db.scalars(
        select(TemplateVersion).where(
            TemplateVersion.template_id == row.id, TemplateVersion.version == number
        )
    ).first()
    if stored is None:
        raise Invalid.field(
            field, f"template '{row.name}' has versions 1 to {row.latest_version} (got {number})"
        )
    return LoadedVersion(row, stored, load_template(stored.body, registry=registry))


def shared_template_or_error(
    db: Session, studio: Studio, name: str, *, field: str | None = None
) -> ClusterTemplate:
    """The template if it is shared with ``studio``; otherwise it does not exist for it."""
    row = db.scalars(
        select(ClusterTemplate)
        .join(TemplateShare, TemplateShare.template_id == ClusterTemplate.id)
        .where(TemplateShare.studio_id == studio.id, ClusterTemplate.name == name)
    ).first()
    if row is not None:
        return row
    shared = ", ".join(t.name for t in shared_templates(db, studio)) or "none"
    message = f"no template '{name}' is shared with studio '{studio.name}' (shared: {shared})"
    if field is not None:
        raise Invalid.field(field, message)
    raise NotFound(message)


def shared_templates(db: Session, studio: Studio) -> list[ClusterTemplate]:
    return list(
        db.scalars(
            select(ClusterTemplate)
            .join(TemplateShare, TemplateShare.template_id == ClusterTemplate.id)
            .where(TemplateShare.studio_id == studio.id)
            .order_by(ClusterTemplate.name)
        )
    )


def list_templates(db: Session, *, limit: int, next_token: str | None) -> Page[TemplateSummary]:
    rows, token = page(db, select(ClusterTemplate), ClusterTemplate.id, limit, next_token)
    return Page(items=[TemplateSummary.model_validate(r) for r in rows], next_token=token)


def share(db: Session, row: ClusterTemplate, studio: Studio) -> None:
    if db.get(TemplateShare, (row.id, studio.id)) is None:
        db.add(TemplateShare(template_id=row.id, studio_id=studio.id))
        flush_or_conflict(db, f"template '{row.name}' was shared concurrently")


def unshare(db: Session, row: ClusterTemplate, studio: Studio) -> None:
    existing = db.get(TemplateShare, (row.id, studio.id))
    if existing is None:
        raise NotFound(f"template '{row.name}' is not shared with studio '{studio.name}'")
    db.delete(existing)
    db.flush()


def delete_template(db: Session, row: ClusterTemplate) -> None:
    db.delete(row)
    db.flush()


def _public_fields(loaded: LoadedVersion) -> dict[str, Any]:
    summary = TemplateSummary.model_validate(loaded.row).model_dump()
    return {
        **summary,
        "version": loaded.version.version,
        "parameters": describe_parameters(loaded.template),
    }


def template_public(loaded: LoadedVersion) -> TemplatePublic:
    return TemplatePublic.model_validate(_public_fields(loaded))


def template_detail(db: Session, loaded: LoadedVersion) -> TemplateDetail:
    shares = db.scalars(
        select(TemplateShare.studio_id).where(TemplateShare.template_id == loaded.row.id)
    )
    return TemplateDetail.model_validate(
        {
            **_public_fields(loaded),
            "body": loaded.version.body,
            "published_by": loaded.version.published_by,
            "versions": [v.version for v in loaded.row.versions],
            "shared_with": sorted(shares),
        }
    )
