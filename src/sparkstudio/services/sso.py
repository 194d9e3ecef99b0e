"""Single sign-on: pending logins, users by their provider's subject, directory groups.

Rules:

- a sign-in maps to its user by (provider, subject), never by name; the first sign-in
  creates the user, named from the provider's username claim; a name already taken by
  another user is refused (an account is never taken over);
- at every sign-in the user joins the provider's directory groups named in the groups
  claim (created when missing) and leaves those of that provider no longer named; local
  groups, and directory groups of other providers, are never changed;
- every such change (a user or a directory group created, a membership added or removed)
  is returned as a :class:`Change`, for the caller to put in the audit trail;
- a browser sign-in ends the login session the browser held when it started: its id is
  remembered in the pending login (the session cookie is SameSite=Strict, so it is not
  sent on the provider's cross-site redirect to the callback).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from sparkstudio.auth.actions import Action
from sparkstudio.auth.oidc import VerifiedIdentity, new_secret, printable, s256
from sparkstudio.auth.providers import OidcProvider
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Group, GroupMember, Membership, PendingLogin, Studio, User
from sparkstudio.errors import BadRequest, Conflict, Forbidden, Unauthenticated
from sparkstudio.ids import new_id
from sparkstudio.schemas.common import (
    EMAIL_PATTERN,
    NAME_PATTERN,
    TEXT_PATTERN,
    USER_NAME_PATTERN,
    USER_NAME_RULE,
)
from sparkstudio.schemas.studios import AuthMode
from sparkstudio.services.common import flush_or_conflict
from sparkstudio.services.groups import get_group_by_name
from sparkstudio.services.users import get_user_by_name

log = logging.getLogger("sparkstudio.sso")

LOGIN_TTL = timedelta(minutes=10)  # from the redirect to the provider to its callback
CLI_CODE_TTL = timedelta(minutes=2)  # from the callback to the CLI's exchange
# Finished and expired logins are kept this long, so that a replay is named as such.
KEEP_LOGINS = timedelta(hours=1)

_USER_NAME = re.compile(USER_NAME_PATTERN)
_GROUP_NAME = re.compile(NAME_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


# --- pending logins ---------------------------------------------------------------------


def start_login(
    db: Session,
    provider: OidcProvider,
    *,
    next_path: str = "",
    cli_port: int | None = None,
    cli_challenge: str | None = None,
    previous_token_id: str | None = None,
) -> PendingLogin:
    """A new pending login with fresh state, nonce and PKCE verifier.

    ``previous_token_id`` is the login session the browser holds when it starts (see
    :func:`sparkstudio.services.tokens.presented_session`): the callback ends it.
    """
    db.execute(delete(PendingLogin).where(PendingLogin.created_at < utcnow() - KEEP_LOGINS))
    login = PendingLogin(
        state=new_secret(),
        provider=provider.name,
        nonce=new_secret(),
        code_verifier=new_secret(),
        next_path=next_path,
        cli_port=cli_port,
        cli_challenge=cli_challenge,
        previous_token_id=previous_token_id,
        created_at=utcnow(),
    )
    db.add(login)
    db.flush()
    return login


def complete_login(
    db: Session, provider: OidcProvider, state: str, browser_state: str | None
) -> PendingLogin:
    """The pending login ``state`` names, now used: it cannot be completed twice.

    ``browser_state`` is what the browser's sign-in cookie holds: the callback must come
    to the browser that started the sign-in (RFC 6749 section 10.12).
    """
    again = "; start the sign-in again"
    login = db.get(PendingLogin, state, with_for_update=True) if len(state) <= 64 else None
    if login is None:
        raise BadRequest("unknown or expired sign-in state" + again, reason="InvalidState")
    if login.provider != provider.name:
        raise BadRequest(
            f"this sign-in was started with identity provider '{login.provider}', not "
            f"'{provider.name}'" + again,
            reason="InvalidState",
        )
    if login.completed_at is not None:
        raise BadRequest(
            "this sign-in state was already used; a state is good for one sign-in" + again,
            reason="InvalidState",
        )
    if login.created_at <= utcnow() - LOGIN_TTL:
        minutes = int(LOGIN_TTL.total_seconds() // 60)
        raise BadRequest(
            f"this sign-in took longer than {minutes} minutes" + again, reason="InvalidState"
        )
    if browser_state is None or not hmac.compare_digest(browser_state.encode(), state.encode()):
        raise BadRequest(
            "this sign-in was not started in this browser (or its sign-in cookie was refused)"
            + again,
            reason="InvalidState",
        )
    login.completed_at = utcnow()
    db.flush()
    return login


# --- users and directory groups ---------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A change a sign-in made, named as the API's own change of it would be."""

    action: Action
    path: str  # of the resource, below the API prefix: /users/usr-…, /groups/grp-…/members/…
    message: str


@dataclass
class SignIn:
    """The user a sign-in resolved to, and what it changed on the way."""

    user: User
    changes: list[Change] = field(default_factory=list)


def sign_in(db: Session, provider: OidcProvider, identity: VerifiedIdentity) -> SignIn:
    """The user of a verified sign-in: created at first sign-in, groups synchronised."""
    if len(identity.subject) > 255:
        raise Forbidden(
            f"identity provider '{provider.name}' sent a subject longer than 255 characters",
            reason="UnusableIdentity",
        )
    user = db.scalars(
        select(User)
        .options(selectinload(User.groups))
        .where(User.identity_provider == provider.name, User.subject == identity.subject)
    ).first()
    changes: list[Change] = []
    if user is None:
        user = _create_user(db, provider, identity)
        changes.append(
            Change(
                Action.USER_CREATE,
                f"/users/{user.id}",
                f"user '{user.name}' created at its first sign-in with '{provider.name}'",
            )
        )
    else:
        _update_profile(user, identity.claims)
    if user.disabled:
        raise Forbidden(
            f"user '{user.name}' is disabled; ask a platform admin", reason="UserDisabled"
        )
    if provider.groups_claim:
        claimed = identity.claims.get(provider.groups_claim)
        changes += sync_directory_groups(db, user, provider, claimed)
    db.flush()
    return SignIn(user, changes)


def _create_user(db: Session, provider: OidcProvider, identity: VerifiedIdentity) -> User:
    claim = provider.username_claim
    raw = identity.claims.get(claim)
    if not isinstance(raw, str) or not raw.strip():
        raise Forbidden(
            f"identity provider '{provider.name}' sent no '{claim}' claim to name your user; "
            "a platform admin can choose another claim (username_claim)",
            reason="UnusableIdentity",
        )
    name = raw.strip().lower()
    if not _USER_NAME.match(name):
        raise Forbidden(
            f"the '{claim}' claim of identity provider '{provider.name}' "
            f"('{printable(raw, 100)}') is not a valid user name ({USER_NAME_RULE}); "
            "a platform admin can choose another claim (username_claim)",
            reason="UnusableIdentity",
        )
    if get_user_by_name(db, name) is not None:
        raise Conflict(
            f"a user named '{name}' already exists and is not linked to your account at "
            f"identity provider '{provider.name}'; it is never taken over: ask a platform admin",
            reason="UserNameTaken",
        )
    user = User(
        id=new_id("usr"),
        name=name,
        display_name="",
        identity_provider=provider.name,
        subject=identity.subject,
        groups=[],
    )
    _update_profile(user, identity.claims)
    db.add(user)
    flush_or_conflict(db, f"a user named '{name}' was created meanwhile; sign in again")
    log.info("created user %s at its first sign-in with %s", name, provider.name)
    return user


def _update_profile(user: User, claims: Mapping[str, Any]) -> None:
    """Display name and e-mail follow the provider's claims, when they fit our rules."""
    display_name = claims.get("name")
    if isinstance(display_name, str) and len(display_name) <= 128 and _TEXT.match(display_name):
        user.display_name = display_name
    email = claims.get("email")
    if isinstance(email, str) and len(email) <= 254 and _EMAIL.match(email):
        user.email = email


def _claimed_group_names(provider: OidcProvider, claimed: object) -> set[str]:
    values = [claimed] if isinstance(claimed, str) else claimed
    if not isinstance(values, list):
        return set()
    names = {value for value in values if isinstance(value, str) and _GROUP_NAME.match(value)}
    if len(names) < len(values):
        log.warning(
            "%s: %d group name(s) in claim '%s' are not valid group names; ignored",
            provider.name,
            len(values) - len(names),
            provider.groups_claim,
        )
    return names


def sync_directory_groups(
    db: Session, user: User, provider: OidcProvider, claimed: object
) -> list[Change]:
    """Make the user's directory groups of ``provider`` exactly the ones claimed; returns
    the groups created and the memberships added and removed."""
    names = _claimed_group_names(provider, claimed)
    claim = f"the '{provider.groups_claim}' claim of '{provider.name}'"
    changes: list[Change] = []
    for group in list(user.groups):
        if group.source == provider.name and group.name not in names:
            user.groups.remove(group)
            changes.append(
                Change(
                    Action.GROUP_UPDATE,
                    f"/groups/{group.id}/members/{user.id}",
                    f"user '{user.name}' left directory group '{group.name}': {claim} "
                    "no longer names it",
                )
            )
    missing = names - {group.name for group in user.groups}
    if not missing:
        return changes
    existing = {g.name: g for g in db.scalars(select(Group).where(Group.name.in_(missing)))}
    for name in sorted(missing):
        found = existing.get(name)
        if found is not None:
            group = found
        else:
            group, created = _create_directory_group(db, provider, name)
            if created:
                changes.append(
                    Change(
                        Action.GROUP_CREATE,
                        f"/groups/{group.id}",
                        f"directory group '{name}' created: {claim} names it",
                    )
                )
        if group.source != provider.name:
            # A local group (or another provider's) of that name is never changed.
            log.warning(
                "%s: user %s is in group %s at the provider, but that group here is not one "
                "of its directory groups; not changed",
                provider.name,
                user.name,
                name,
            )
            continue
        user.groups.append(group)
        changes.append(
            Change(
                Action.GROUP_UPDATE,
                f"/groups/{group.id}/members/{user.id}",
                f"user '{user.name}' joined directory group '{name}': {claim} names it",
            )
        )
    return changes


def _create_directory_group(db: Session, provider: OidcProvider, name: str) -> tuple[Group, bool]:
    """The directory group ``name``, and whether this call created it."""
    group = Group(
        id=new_id("grp"),
        name=name,
        description=f"Directory group of {provider.label}",
        source=provider.name,
        members=[],
    )
    try:
        with db.begin_nested():
            db.add(group)
    except IntegrityError:  # a concurrent sign-in created it first
        created = get_group_by_name(db, name)
        if created is None:
            raise
        return created, False
    return group, True


# --- the CLI's one-time code ------------------------------------------------------------


def issue_cli_code(db: Session, state: str, user: User) -> str:
    """A one-time code for the CLI that started the login ``state`` names (hash kept)."""
    login = db.get(PendingLogin, state)
    if login is None or login.cli_port is None:
        raise BadRequest("this sign-in was not started by the CLI", reason="InvalidState")
    code = new_secret()
    login.user_id = user.id
    login.cli_code_hash = _digest(code)
    db.flush()
    return code


def redeem_cli_code(db: Session, code: str, code_verifier: str) -> User:
    """The user a one-time code was issued for, if the verifier is the CLI's own."""
    failure = Unauthenticated(
        "unknown, used or expired sign-in code; run 'sparkstudio login --sso' again",
        reason="InvalidCode",
    )
    login = db.scalars(
        select(PendingLogin).where(PendingLogin.cli_code_hash == _digest(code)).with_for_update()
    ).first()
    if (
        login is None
        or login.user_id is None
        or login.cli_challenge is None
        or login.completed_at is None
        or login.cli_code_used_at is not None
        or login.completed_at <= utcnow() - CLI_CODE_TTL
    ):
        raise failure
    if not hmac.compare_digest(s256(code_verifier).encode(), login.cli_challenge.encode()):
        raise Unauthenticated(
            "the code verifier does not match the one this sign-in was started with",
            reason="InvalidCode",
        )
    login.cli_code_used_at = utcnow()
    user = db.get(User, login.user_id)
    if user is None:
        raise failure
    if user.disabled:
        raise Forbidden(
            f"user '{user.name}' is disabled; ask a platform admin", reason="UserDisabled"
        )
    db.flush()
    return user


# --- studios that require single sign-on ------------------------------------------------


def studio_requiring_sso(db: Session, user_id: str) -> str | None:
    """The name of a studio whose auth mode is SSO_ONLY and the user belongs to, if any."""
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    return db.scalars(
        select(Studio.name)
        .join(Membership, Membership.studio_id == Studio.id)
        .where(
            Studio.auth_mode == AuthMode.SSO_ONLY,
            or_(Membership.user_id == user_id, Membership.group_id.in_(groups)),
        )
        .order_by(Studio.name)
        .limit(1)
    ).first()


def refuse_password_login(db: Session, user: User) -> None:
    """A password login of a member of a studio that requires single sign-on is refused.

    Called once the password was found right, so the refusal reveals nothing to a guesser.
    Platform admins keep their password: they must be able to reach a platform whose
    identity provider is down or misconfigured.
    """
    if user.is_platform_admin:
        return
    studio = studio_requiring_sso(db, user.id)
    if studio is not None:
        raise Forbidden(
            f"studio '{studio}' requires single sign-on: sign in with SSO instead of a "
            "password (in a terminal: sparkstudio login --url URL --sso)",
            reason="SsoRequired",
        )
