"""The service's error codes, as Nova exceptions.

The service's message is passed through verbatim: ``NovaException(message=..)``
keeps it as it is instead of formatting the class's ``msg_fmt``.
"""

from nova import exception

CODE_TO_EXCEPTION = {
    "InstanceNotFound": exception.InstanceNotFound,
    "ImageNotFound": exception.ImageNotFound,
    "ImageUnacceptable": exception.ImageUnacceptable,
    "ImageUnavailable": exception.GlanceConnectionFailed,
    "InstanceNotRunning": exception.InstanceNotRunning,
    "InstanceExists": exception.InstanceExists,
    "InstanceInvalidState": exception.InstanceInvalidState,
    "SpawnFailed": exception.InstanceDeployFailure,
    "VifPlugFailed": exception.VirtualInterfacePlugException,
    "InvalidInput": exception.InvalidInput,
    "BadRequest": exception.InvalidInput,
    "PayloadTooLarge": exception.InvalidInput,
    "DockerUnavailable": exception.HypervisorUnavailable,
    "Forbidden": exception.Forbidden,
    # The host's fault, not the image's: Nova may reschedule elsewhere.
    "InsufficientStorage": exception.InstanceDeployFailure,
}


class ServiceError(exception.NovaException):
    """An error the service reported with a code the driver has no class for."""

    msg_fmt = "novadock service error: %(reason)s"


def to_exception(code, message, status=None):
    """Build the Nova exception for one service error body."""
    cls = CODE_TO_EXCEPTION.get(code)
    if cls is None:
        text = f"novadock service error {code}"
        if status is not None:
            text += f" (HTTP {status})"
        exc = ServiceError(message=f"{text}: {message}")
    else:
        exc = cls(message=message)
    exc.novadock_code = code
    exc.novadock_status = status
    return exc
