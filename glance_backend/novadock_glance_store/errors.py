"""The novadock service's answers and transport failures as glance_store
exceptions, which Glance turns into the HTTP status a user sees.

novadock_client reports the service's error body (``{"error": {"code": ...,
"message": ...}}``, api/openapi.json) as a ServiceError. Glance answers an
upload's ``Invalid`` with 400, ``StorageFull`` with 413, ``TimeoutError`` with
503; a ``NotFound`` on download with 404 or 410. Data the service refuses is
``ImageDataRefused``, a 400 whose reason the clients show.
"""

from glance_store import exceptions
import novadock_client
import webob.exc

# Codes for a request the service does not know at all: a service built
# before the image API, or a socket that is not novadock's.
_NO_ROUTE = ("NoSuchRoute", "MethodNotAllowed")


class ImageDataRefused(webob.exc.HTTPBadRequest):
    """The service refused an upload's data (not a docker save tarball...).

    Deliberately a webob error and not glance_store's Invalid: glance-api
    answers Invalid with a text/plain 400, whose body the openstack CLI
    (openstacksdk) and glanceclient do not show ("400 Bad Request" and no
    reason). An HTTPError goes through image_data.upload unchanged (the image
    is set back to queued) and is served with this JSON body, whose
    ``message`` both clients print."""

    def __init__(self, message):
        super().__init__(detail=message, json_body={
            "error": {"code": 400, "title": "Bad Request", "message": message}})


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
        if method == "PUT":  # PUT is only the upload (store_image)
            return ImageDataRefused("the novadock store refused the image "
                                    "data (%s): %s" % (code, e.message))
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
