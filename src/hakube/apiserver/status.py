"""Kubernetes `Status` errors: the one way an API error leaves a handler.

Messages and reasons follow apimachinery `pkg/api/errors/errors.go`; clients
key off `reason` and `code` (API-COMPAT.md §2.4).
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """An API error rendered as a metav1.Status body with an HTTP code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        list_meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.list_meta = list_meta or {}

    def to_status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    """`pods` or `deployments.apps`: how kube names a resource in messages."""
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
        details=_details(resource, group, name),
    )


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
        details=_details(resource, group, name),
    )


OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def conflict(resource: str, group: str, name: str, why: str = OPTIMISTIC_LOCK_MESSAGE) -> StatusError:
    return StatusError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        details=_details(resource, group, name),
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> StatusError:
    """422 Invalid; `causes` are {reason, message, field} as field.ErrorList renders them."""
    summary = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    if len(causes) > 1:
        summary = f"[{summary}]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return StatusError(422, "Invalid", f'{kind}.{group} "{name}" is invalid: {summary}'
                       if group else f'{kind} "{name}" is invalid: {summary}', details=details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> StatusError:
    return StatusError(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
        details={"causes": [{"reason": "UnsupportedMediaType", "message": content_type}]},
    )


def not_acceptable(accepted: list[str]) -> StatusError:
    return StatusError(
        406, "NotAcceptable",
        f"only the following media types are accepted: {', '.join(accepted)}",
    )


def too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge",
                       f"Request entity too large: limit is {limit}")


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str) -> StatusError:
    return StatusError(403, "Forbidden", message)


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       details={"causes": [{"message": message}]})


def unavailable(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message,
                       details={"retryAfterSeconds": retry_after},
                       headers={"Retry-After": str(retry_after)})


def timeout(message: str, cause: str = "") -> StatusError:
    details: dict[str, Any] = {}
    if cause:
        details["causes"] = [{"reason": cause, "message": message}]
    return StatusError(504, "Timeout", message, details=details or None)
