"""The EMR Serverless REST-JSON protocol at ``/aws/emr-serverless``.

An unmodified boto3 ``emr-serverless`` client (or ``aws emr-serverless``) pointed at
``<server>/aws/emr-serverless`` with a sparkstudio AWS access key pair talks to the
studio the pair is bound to. Every request is authenticated with SigV4 first; every
error is answered in AWS's shape (:mod:`sparkstudio.aws.errors`).

Operations served today: ListApplications. A request for any other operation is
answered, once its signature is verified, with ``404 UnknownOperationException``,
naming the EMR Serverless operation when the method and path are one (an unsigned
request learns nothing).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Final

from botocore.session import get_session
from fastapi import APIRouter, Depends, Query, Request

from sparkstudio.api.deps import Db, requires
from sparkstudio.auth.actions import Action
from sparkstudio.aws.arns import application_arn
from sparkstudio.aws.auth import AwsAccess, AwsCaller, SignedRoute, authorize_aws, signed_caller
from sparkstudio.aws.errors import unknown_operation
from sparkstudio.lifecycle import ApplicationStatus
from sparkstudio.schemas.applications import ApplicationPublic
from sparkstudio.services import applications as application_service

PREFIX: Final = "/aws/emr-serverless"
SERVICE: Final = "emr-serverless"  # the SigV4 signing name
_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class EmrServerlessRoute(SignedRoute):
    service = SERVICE


router = APIRouter(prefix=PREFIX, route_class=EmrServerlessRoute, include_in_schema=False)
Caller = Annotated[AwsCaller, Depends(signed_caller)]


@cache
def _operations() -> list[tuple[str, re.Pattern[str], str]]:
    """EMR Serverless's operations as botocore describes them: method, path, name."""
    model = get_session().get_service_model(SERVICE)
    table = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = re.sub(r"\{[^}]+\}", "[^/]+", http["requestUri"].split("?")[0])
        table.append((http["method"], re.compile(path), name))
    return table


def operation_name(method: str, path: str) -> str | None:
    """The EMR Serverless operation of ``method`` on ``path`` (under the prefix), if any."""
    for wanted, pattern, name in _operations():
        if wanted == method and pattern.fullmatch(path):
            return name
    return None


def authorized(request: Request, db: Db, caller: Caller) -> AwsAccess:
    return authorize_aws(request, db, caller)


Authorized = Annotated[AwsAccess, Depends(authorized)]


def _summary(application: ApplicationPublic, access: AwsAccess) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "id": application.id,
        "name": application.name,
        "arn": application_arn(access.region, application.studio_id, application.id),
        "releaseLabel": application.release_label,
        "type": application.type,
        "state": application.status,
        "createdAt": application.created_at.timestamp(),
        "updatedAt": application.updated_at.timestamp(),
        "architecture": "X86_64",
    }
    if application.status_reason.message:
        summary["stateDetails"] = application.status_reason.message
    return summary


@router.get("/applications", openapi_extra=requires(Action.APPLICATION_LIST))
def list_applications(
    access: Authorized,
    db: Db,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=1024)] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=50)] = 50,
    states: Annotated[list[ApplicationStatus], Query(max_length=7)] = [],  # noqa: B006
) -> dict[str, Any]:
    """ListApplications: the applications of the key pair's studio."""
    page = application_service.list_applications(
        db, access.studio, limit=max_results, next_token=next_token, states=states
    )
    answer: dict[str, Any] = {"applications": [_summary(a, access) for a in page.items]}
    if page.next_token is not None:
        answer["nextToken"] = page.next_token
    return answer


# Operations are added above this line: the catch-all must be the router's last route.


@router.api_route("", methods=_METHODS)
@router.api_route("/{path:path}", methods=_METHODS)
async def unknown(request: Request) -> None:
    """Any other request, once its route class has verified its signature."""
    path = request.url.path.removeprefix(PREFIX) or "/"
    name = operation_name(request.method, path)
    if name is not None:
        raise unknown_operation(f"the operation {name} is not supported by this endpoint")
    raise unknown_operation(f"no EMR Serverless operation is {request.method} {path}")
