"""The novadock service's answers and transport failures as glance_store
exceptions, which Glance turns into the HTTP status a user sees.

novadock_client reports the service's error body (``{"error": {"code": ...,
"message": ...}}``, api/openapi.json) as a ServiceError. Glance answers an
upload's ``Invalid`` with 400, ``StorageFull`` with 413, ``TimeoutError`` with
503; a ``NotFound`` on download with 404 or 410.
"""

from glance_store import exceptions
import novadock_client

# Codes for a request the service does not know at all: a service built
# before the image API, or a socket that is not novadock's.
_NO_ROUTE = ("NoSuchRoute", "MethodNotAllowed")


def from_service_error(e):
    """The glance_store exception for an error answer of the service."""
    code, status, method = e.code, e.status, e.method
    what = str(e)
    if code in _NO_ROUTE or (code is None and status in (404, 405)):
        return exceptions.BackendException(
            what + " (is the novadock service at that socket too old to "
            "serve images?)")
    if code == "ImageNotFound" or status == 404:
        return exceptions.NotFound(message=what)
    if code in ("PayloadTooLarge", "InsufficientStorage") or status in (413, 507):
        return exceptions.StorageFull(message=what)
    if status == 400 or code in ("InvalidInput", "BadRequest"):
        return exceptions.Invalid(message=what)
    if status == 409:
        if method == "DELETE":
            return exceptions.InUseByStore(message=what)
        return exceptions.Duplicate(message=what)
    if code == "DockerUnavailable" or status == 503:
        return exceptions.RemoteServiceUnavailable(message=what)
    return exceptions.BackendException(what)


def to_store_error(e):
    """The glance_store exception for one failed exchange (novadock_client's)."""
    if isinstance(e, novadock_client.ServiceError):
        return from_service_error(e)
    if isinstance(e, novadock_client.TransportError):
        if e.timed_out:
            return exceptions.TimeoutError(message=str(e), timeout=e.timeout)
        if not e.connected:
            # The service cannot be reached at all (no socket, nobody
            # listening).
            return exceptions.RemoteServiceUnavailable(message=str(e))
    # The connection broke mid-exchange, or the answer was not JSON.
    return exceptions.BackendException(str(e))
