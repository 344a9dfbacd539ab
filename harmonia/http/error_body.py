"""What an error looks like to the client: a message and ``extensions.code`` (a contract code), never a
stack trace or an upstream body.

    error("A `query` string is required", "BAD_USER_INPUT")     # {"message": ..., "extensions": {"code": ...}}
    execution_error(graphql_error)                              # a resolver's error, as the client sees it
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from harmonia.errors import HarmoniaError

log = logging.getLogger("harmonia.graphql")


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


def limit_error(exc: GraphQLError) -> dict[str, Any]:
    """An operation-limit error (depth, aliases, cost...): its own code, BAD_USER_INPUT when it names none."""
    extensions = dict(exc.extensions or {})
    return error(exc.message, str(extensions.pop("code", "BAD_USER_INPUT")), **extensions)


def locations(exc: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in exc.locations or ()]


def execution_error(exc: GraphQLError) -> dict[str, Any]:
    """An error raised while executing: Harmonia's own keep their code, anything unexpected is INTERNAL."""
    formatted: dict[str, Any] = {"message": exc.message}
    if exc.locations:
        formatted["locations"] = locations(exc)
    if exc.path is not None:
        formatted["path"] = exc.path
    original = exc.original_error
    if isinstance(original, HarmoniaError):
        formatted["message"] = original.message
        formatted["extensions"] = {"code": original.code, **original.extensions}
    elif original is None or isinstance(original, GraphQLError):
        # graphql-core's own input errors (an argument or variable it could not coerce), whichever
        # way a release wraps them: the client's input, not a failure of ours, and not logged.
        formatted["extensions"] = {"code": "BAD_USER_INPUT"}
    else:
        log.error("unexpected error in a resolver", exc_info=original)
        formatted["message"] = "Internal server error"
        formatted["extensions"] = {"code": "INTERNAL"}
    return formatted
