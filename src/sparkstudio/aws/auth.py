"""Who signed a request to an AWS adapter, and what they may do there.

:class:`SignedRoute` checks every request's SigV4 signature against the secret of a
sparkstudio AWS access key pair and resolves the pair to the same :class:`Principal`
the native API uses, acting in the one studio the pair is bound to. A revoked or expired
pair, or one whose user is disabled, is refused as AWS refuses an unknown key
(``UnrecognizedClientException``).

:func:`authorize_aws` is the adapters' ``authorize``: an operation declares its action
with ``openapi_extra=requires(Action.X)`` and is checked against the action table in
the pair's studio (memberships, roles, session policies), as the native API checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sparkstudio.api.audit_note import note_decision, note_of, note_principal
from sparkstudio.api.deps import get_auth_cache, get_database, get_settings, route_action
from sparkstudio.auth.actions import ACTIONS, Action, Scope, studio_resource
from sparkstudio.auth.identity import Principal, grants_in_studio
from sparkstudio.auth.policy import Decision, decide
from sparkstudio.aws.errors import AwsRoute, access_denied
from sparkstudio.aws.sigv4 import SignedRequest, verify
from sparkstudio.db.models import Studio
from sparkstudio.db.session import Database
from sparkstudio.services import tokens as token_service
from sparkstudio.services.aws_keys import ActiveKey, find_active_key

_CALLER_KEY = "sparkstudio.aws_caller"
# The access key id a request claims, for the audit trail of a refused request.
_CLAIMED_KEY = re.compile(r"Credential=([A-Za-z0-9]{1,64})/")


@dataclass(frozen=True)
class AwsCaller:
    """A verified signer: who acts, in which studio, signing for which region."""

    principal: Principal
    studio_id: str
    region: str
    access_key_id: str


def _verify_now(database: Database, home: Path, signed: SignedRequest, service: str) -> AwsCaller:
    found: list[ActiveKey] = []

    def lookup_secret(access_key_id: str) -> str | None:
        with database.session(write=False) as db:
            key = find_active_key(db, home, access_key_id)
        if key is None:
            return None
        found.append(key)
        return key.secret_access_key

    verified = verify(signed, service=service, lookup_secret=lookup_secret)
    key = found[0]
    if key.principal.needs_touch:
        # Before the operation opens its own session: SQLite has one writer.
        with database.transaction() as db:
            token_service.touch(db, key.principal.token_id)
    return AwsCaller(key.principal, key.studio_id, verified.region, verified.access_key_id)


async def verify_signed_caller(request: Request, service: str) -> AwsCaller:
    """The caller of ``request``, signed for ``service``; raises ``SignatureError``."""
    signed = SignedRequest.from_scope(request.scope, await request.body())
    note = note_of(request)
    claimed = _CLAIMED_KEY.search(signed.header("authorization") or "")
    if note is not None and claimed is not None:
        note.actor_name = claimed.group(1)  # an access key id is no secret
    caller = await run_in_threadpool(
        _verify_now, get_database(request), get_settings(request).home, signed, service
    )
    note_principal(request, caller.principal)
    if note is not None:
        note.studio_id = caller.studio_id
    return caller


class SignedRoute(AwsRoute):
    """A route of an AWS adapter: every request's signature (for ``service``) is verified
    before anything else, its body's validity included, so that a route cannot forget it
    and an unsigned request learns nothing. Operations read the caller with
    :func:`signed_caller`."""

    service: ClassVar[str] = ""

    async def before(self, request: Request) -> None:
        request.scope[_CALLER_KEY] = await verify_signed_caller(request, self.service)


def signed_caller(request: Request) -> AwsCaller:
    """The verified caller of a :class:`SignedRoute` (a dependency)."""
    caller = request.scope.get(_CALLER_KEY)
    if not isinstance(caller, AwsCaller):
        raise RuntimeError(f"{request.url.path} is not served by a SignedRoute")
    return caller


def authorize_aws(request: Request, db: Session, caller: AwsCaller) -> AwsAccess:
    """Check the action the matched route declares, in the caller's studio."""
    action = route_action(request)
    spec = ACTIONS[action]
    if spec.scope is not Scope.STUDIO:
        raise RuntimeError(f"{action} is not a studio action")
    principal = caller.principal
    studio = db.get(Studio, caller.studio_id)
    grants = get_auth_cache(request).grants(
        principal, caller.studio_id, lambda: grants_in_studio(db, principal, caller.studio_id)
    )
    item = None
    if spec.resource_kind:  # AWS names an item's path parameter e.g. "applicationId"
        item = request.path_params.get(f"{spec.resource_kind}Id")
    resource = studio_resource(caller.studio_id, spec.resource_kind, item)
    decision = decide(
        action, is_platform_admin=principal.is_platform_admin, grants=grants, resource=resource
    )
    note_decision(request, action.value, resource, caller.studio_id)
    if studio is None or decision is not Decision.ALLOW:
        # HIDDEN too: the pair's user no longer belongs to the pair's studio.
        raise access_denied(
            f"User: {principal.name} is not authorized to perform: {action.value} "
            f"on resource: {resource}"
        )
    return AwsAccess(principal, action, studio, caller.region)


@dataclass(frozen=True)
class AwsAccess:
    """What an operation gets once the caller is authorized: who, for what, where."""

    principal: Principal
    action: Action
    studio: Studio
    region: str

    @property
    def actor(self) -> str:
        return self.principal.name
