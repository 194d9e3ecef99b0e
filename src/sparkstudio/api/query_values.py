"""A query parameter that takes one value, given several times, is an error.

Starlette keeps every value and FastAPI reads the last one, so ``?actor=a&actor=b``
would silently mean ``actor=b``. Parameters declared as lists take every value.
"""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi.dependencies.models import Dependant
from starlette.requests import HTTPConnection

from sparkstudio.errors import Invalid

_MANY = (list, tuple, set, frozenset)


def _takes_many(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in _MANY:
        return True
    if origin is Annotated:
        return _takes_many(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_takes_many(arg) for arg in get_args(annotation))
    return False


def _query_params(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_params(sub)


def reject_repeated_query_values(connection: HTTPConnection) -> None:
    counts = Counter(key for key, _ in connection.query_params.multi_items())
    repeated = {key for key, count in counts.items() if count > 1}
    dependant = getattr(connection.scope.get("route"), "dependant", None)
    if not repeated or dependant is None:
        return
    for param in _query_params(dependant):
        if param.alias in repeated and not _takes_many(param.field_info.annotation):
            raise Invalid.field(param.alias, "takes one value (it was given more than once)")
