"""Cluster templates: platform admins publish and share; studio members browse shared ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import Authorized, Db, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.templates import (
    TemplateDetail,
    TemplatePublic,
    TemplatePublish,
    TemplateSummary,
)
from sparkstudio.services import studios as studio_service
from sparkstudio.services import templates as service

router = APIRouter(tags=["templates"], responses=ERROR_RESPONSES)
Version = Annotated[int | None, Query(ge=1, description="A version; the latest when omitted.")]


@router.post(
    "/templates",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.TEMPLATE_PUBLISH),
)
def publish_template(body: TemplatePublish, access: Authorized, db: Db) -> TemplateDetail:
    """Publish a template, or the next version of the template its text names.

    The text is parsed, every reference checked and every parameter choice dry-run
    before anything is stored; problems answer 422 naming the place in the text.
    """
    version = service.publish(db, body.body, access.actor)
    db.commit()
    loaded = service.load_version(db, version.template, version.version)
    return service.template_detail(db, loaded)


@router.get("/templates", openapi_extra=requires(Action.TEMPLATE_LIST))
def list_templates(
    access: Authorized, db: Db, limit: Limit = 100, next_token: PageToken = None
) -> Page[TemplateSummary]:
    return service.list_templates(db, limit=limit, next_token=next_token)


@router.get("/templates/{template_name}", openapi_extra=requires(Action.TEMPLATE_DESCRIBE))
def describe_template(
    template_name: str, access: Authorized, db: Db, version: Version = None
) -> TemplateDetail:
    row = service.get_template_or_404(db, template_name)
    return service.template_detail(db, service.load_version(db, row, version))


@router.delete(
    "/templates/{template_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.TEMPLATE_DELETE),
)
def delete_template(template_name: str, access: Authorized, db: Db) -> None:
    """Delete a template and all its versions; clusters launched from it keep running."""
    service.delete_template(db, service.get_template_or_404(db, template_name))
    db.commit()


@router.put(
    "/templates/{template_name}/shares/{studio_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.TEMPLATE_SHARE),
)
def share_template(template_name: str, studio_id: str, access: Authorized, db: Db) -> None:
    """Let the studio's members launch clusters from this template (idempotent)."""
    row = service.get_template_or_404(db, template_name)
    service.share(db, row, studio_service.get_studio_or_404(db, studio_id))
    db.commit()


@router.delete(
    "/templates/{template_name}/shares/{studio_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.TEMPLATE_UNSHARE),
)
def unshare_template(template_name: str, studio_id: str, access: Authorized, db: Db) -> None:
    """Stop new launches from this template in the studio; running clusters keep running."""
    row = service.get_template_or_404(db, template_name)
    service.unshare(db, row, studio_service.get_studio_or_404(db, studio_id))
    db.commit()


@router.get("/studios/{studio_id}/templates", openapi_extra=requires(Action.TEMPLATE_LIST_SHARED))
def list_shared_templates(studio_id: str, access: Authorized, db: Db) -> list[TemplatePublic]:
    """The templates the studio's members may launch clusters from, with their parameters."""
    rows = service.shared_templates(db, access.require_studio())
    return [service.template_public(service.load_version(db, row, None)) for row in rows]


@router.get(
    "/studios/{studio_id}/templates/{template_name}",
    openapi_extra=requires(Action.TEMPLATE_DESCRIBE_SHARED),
)
def describe_shared_template(
    studio_id: str, template_name: str, access: Authorized, db: Db, version: Version = None
) -> TemplatePublic:
    row = service.shared_template_or_error(db, access.require_studio(), template_name)
    return service.template_public(service.load_version(db, row, version))
