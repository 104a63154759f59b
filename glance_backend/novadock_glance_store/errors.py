"""The novadock service's answers and transport failures as glance_store
exceptions, which Glance turns into the HTTP status a user sees.

The service's error body is ``{"error": {"code": ..., "message": ...}}``
(api/openapi.json). Glance answers an upload's ``Invalid`` with 400,
``StorageFull`` with 413, ``TimeoutError`` with 503; a ``NotFound`` on
download with 404 or 410.
"""

import json

from glance_store import exceptions

# Codes for a request the service does not know at all: a service built
# before the image API, or a socket that is not novadock's.
_NO_ROUTE = ("NoSuchRoute", "MethodNotAllowed")


def parse_error(status, body):
    """(code, message) of an error answer; code is None if the body is not the
    service's error document."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        err = json.loads(text)["error"]
        return str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        return None, (text.strip()[:500] or "HTTP %d with no body" % status)


def from_response(status, body, method, path, image_id=None):
    """The glance_store exception for an error answer of the service."""
    code, message = parse_error(status, body)
    what = "novadock service: %s %s answered %d %s: %s" % (
        method, path, status, code or "(not a novadock error)", message)
    if code in _NO_ROUTE or (code is None and status in (404, 405)):
        return exceptions.BackendException(
            what + " (is the novadock service at that socket too old to "
            "serve images?)")
    if code == "ImageNotFound" or status == 404:
        return exceptions.NotFound(message=what, image=image_id)
    if code in ("PayloadTooLarge", "InsufficientStorage") or status in (413, 507):
        return exceptions.StorageFull(message=what)
    if status == 400 or code in ("InvalidInput", "BadRequest"):
        return exceptions.Invalid(message=what)
    if status == 409:
        if method == "DELETE":
            return exceptions.InUseByStore(message=what)
        return exceptions.Duplicate(message=what, image=image_id)
    if code == "DockerUnavailable" or status == 503:
        return exceptions.RemoteServiceUnavailable(message=what)
    return exceptions.BackendException(what)


def unreachable(socket_path, exc):
    """The service cannot be reached at all (no socket, nobody listening)."""
    return exceptions.RemoteServiceUnavailable(
        message="novadock service not reachable on %s: %s" % (socket_path, exc))


def timed_out(socket_path, timeout, method, path):
    return exceptions.TimeoutError(
        message="novadock service on %s made no progress on %s %s for %g s"
        % (socket_path, method, path, timeout),
        timeout=timeout)


def broken(socket_path, method, path, exc):
    """The connection failed in the middle of an exchange."""
    return exceptions.BackendException(
        "novadock service on %s: %s %s failed: %s: %s"
        % (socket_path, method, path, type(exc).__name__, exc))
