"""Studios: the per-team isolation boundary."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from sparkstudio.auth.identity import Principal, is_member
from sparkstudio.db.models import Application, Cluster, Membership, Studio, Workspace
from sparkstudio.errors import Conflict, Forbidden, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import CLUSTER_ENDED
from sparkstudio.rules.locations import parse_location
from sparkstudio.schemas.studios import AuthMode, StudioCreate, StudioPublic, StudioUpdate
from sparkstudio.services.common import flush_or_conflict, page
from sparkstudio.settings import Settings


def _check_auth_mode(mode: AuthMode, settings: Settings) -> None:
    if mode is AuthMode.SSO_ONLY and not settings.oidc_providers:
        raise Invalid.field(
            "auth_mode",
            "SSO_ONLY needs an OpenID Connect provider, and none is configured "
            "(SPARKSTUDIO_OIDC_PROVIDERS); use PASSWORD_OR_SSO",
        )


def _check_locations(
    db: Session, settings: Settings, studio_id: str, storage: str, allowed: Sequence[str]
) -> None:
    """A studio's locations are its own: none holds or lies in the platform's home (but
    the studio's own folder of the embedded store) or another studio's locations."""
    own_default = parse_location((settings.store_root / "studios" / studio_id).as_uri(), "-")
    home = parse_location(settings.home.as_uri(), "-")
    others = [
        (other.name, parse_location(location, "-"))
        for other in db.scalars(select(Studio).where(Studio.id != studio_id))
        for location in (other.storage_location, *(other.allowed_locations or []))
    ]
    named = [("storage_location", storage)] + [
        (f"allowed_locations[{index}]", value) for index, value in enumerate(allowed)
    ]
    for field, value in named:
        location = parse_location(value, field)
        inside_home = location.within(home) or home.within(location)
        if inside_home and not location.within(own_default):
            raise Invalid.field(
                field,
                f"must not hold or lie in the platform's home {settings.home} (its database, "
                f"key and other studios are there); the studio's own folder is {own_default.url}",
            )
        for name, other in others:
            if location.within(other) or other.within(location):
                raise Invalid.field(
                    field,
                    f"overlaps studio '{name}'s location {other.url}; a location is one studio's",
                )


def create_studio(db: Session, data: StudioCreate, settings: Settings) -> Studio:
    _check_auth_mode(data.auth_mode, settings)
    if get_studio_by_name(db, data.name) is not None:
        raise Conflict(f"a studio named '{data.name}' already exists", reason="AlreadyExists")
    studio_id = new_id("st")
    storage = data.storage_location or (settings.store_root / "studios" / studio_id).as_uri()
    _check_locations(db, settings, studio_id, storage, data.allowed_locations)
    studio = Studio(
        id=studio_id,
        name=data.name,
        description=data.description,
        storage_location=storage,
        allowed_locations=list(data.allowed_locations),
        networks=list(data.networks or settings.default_networks),
        auth_mode=data.auth_mode.value,
    )
    db.add(studio)
    flush_or_conflict(db, f"a studio named '{data.name}' already exists")
    return studio


def get_studio_by_name(db: Session, name: str) -> Studio | None:
    return db.scalars(select(Studio).where(Studio.name == name)).first()


def get_studio_or_404(db: Session, studio_id: str) -> Studio:
    studio = db.get(Studio, studio_id)
    if studio is None:
        raise NotFound(f"no studio {studio_id}")
    return studio


def list_studios(
    db: Session,
    principal: Principal,
    *,
    limit: int,
    next_token: str | None,
    name: str | None = None,
) -> tuple[Sequence[Studio], str | None]:
    """The studios the caller belongs to (all of them for platform admins)."""
    statement = select(Studio)
    if not principal.is_platform_admin:
        statement = statement.where(
            exists().where(Membership.studio_id == Studio.id, is_member(principal))
        )
    if name is not None:
        statement = statement.where(Studio.name == name)
    return page(db, statement, Studio.id, limit, next_token)


def update_studio(
    db: Session, studio: Studio, data: StudioUpdate, settings: Settings, principal: Principal
) -> Studio:
    moved = {
        name: value
        for name, value in (
            ("storage_location", data.storage_location),
            ("allowed_locations", data.allowed_locations),
        )
        if value is not None
    }
    if moved and not principal.is_platform_admin:
        field = next(iter(moved))
        raise Forbidden(
            f"only a platform admin may change {field}: the platform reads and writes there "
            "on the studio's behalf"
        )
    if moved:
        _check_locations(
            db,
            settings,
            studio.id,
            data.storage_location or studio.storage_location,
            data.allowed_locations
            if data.allowed_locations is not None
            else studio.allowed_locations or [],
        )
    if data.allowed_locations is not None:
        studio.allowed_locations = list(data.allowed_locations)
    if data.auth_mode is not None:
        _check_auth_mode(data.auth_mode, settings)
        studio.auth_mode = data.auth_mode.value
    if data.description is not None:
        studio.description = data.description
    if data.storage_location is not None:
        studio.storage_location = data.storage_location
    if data.networks is not None:
        removed = set(studio.networks) - set(data.networks)
        in_use = db.scalars(
            select(Workspace.network)
            .where(Workspace.studio_id == studio.id, Workspace.network.in_(removed))
            .distinct()
        ).all()
        if in_use:
            raise Conflict(
                f"networks still used by workspaces: {', '.join(sorted(in_use))}",
                reason="InUse",
            )
        studio.networks = list(data.networks)
    db.flush()
    return studio


def delete_studio(db: Session, studio: Studio) -> None:
    if db.scalar(select(exists().where(Workspace.studio_id == studio.id))):
        raise Conflict(
            f"studio '{studio.name}' still has workspaces; delete them first", reason="InUse"
        )
    live = Cluster.studio_id == studio.id, Cluster.status.not_in(CLUSTER_ENDED)
    if db.scalar(select(exists().where(*live))):
        raise Conflict(
            f"studio '{studio.name}' still has clusters that are not terminated; "
            "terminate them first",
            reason="InUse",
        )
    alive = Application.studio_id == studio.id, Application.status != "TERMINATED"
    if db.scalar(select(exists().where(*alive))):
        raise Conflict(
            f"studio '{studio.name}' still has applications that are not terminated; "
            "stop and delete them first",
            reason="InUse",
        )
    # Ended clusters and deleted applications go with the studio; their events stay.
    db.execute(delete(Cluster).where(Cluster.studio_id == studio.id))
    db.execute(delete(Application).where(Application.studio_id == studio.id))
    db.delete(studio)
    db.flush()


def studio_public(studio: Studio) -> StudioPublic:
    return StudioPublic.model_validate(studio)
