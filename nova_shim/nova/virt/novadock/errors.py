"""The service's error codes, as Nova exceptions.

The service's message is passed through verbatim: ``NovaException(message=..)``
keeps it as it is instead of formatting the class's ``msg_fmt``.
"""

import novadock_client

from nova import exception

CODE_TO_EXCEPTION = {
    "InstanceNotFound": exception.InstanceNotFound,
    "ImageNotFound": exception.ImageNotFound,
    "ImageUnacceptable": exception.ImageUnacceptable,
    "ImageUnavailable": exception.GlanceConnectionFailed,
    "InstanceNotRunning": exception.InstanceNotRunning,
    "InstanceExists": exception.InstanceExists,
    "InstanceInvalidState": exception.InstanceInvalidState,
    # The container's main process exited (or was OOM-killed) at once, or
    # Docker could not start it: the image and request would fail the same
    # on any host. BuildAbortException makes Nova fail the build with this
    # message as the fault instead of rescheduling (which ended in
    # "Exceeded maximum number of retries"), as ImageUnacceptable and
    # InvalidInput (a bad image, an invalid metadata key) already do.
    "SpawnFailed": exception.BuildAbortException,
    "VifPlugFailed": exception.VirtualInterfacePlugException,
    "InvalidInput": exception.InvalidInput,
    "BadRequest": exception.InvalidInput,
    "PayloadTooLarge": exception.InvalidInput,
    "DockerUnavailable": exception.HypervisorUnavailable,
    "Forbidden": exception.Forbidden,
    # Consoles: the exceptions Nova's console API answers with 409 and 400.
    "InstanceNotReady": exception.InstanceNotReady,
    "ConsoleTypeUnavailable": exception.ConsoleTypeUnavailable,
    "ConsolePortRangeExhausted": exception.SocketPortRangeExhaustedException,
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


def _unreachable(e):
    """The Nova exception for a service that gave no complete answer."""
    where = f"novadock service at {e.socket_path}"
    what = f"{e.method} {e.path}"
    if e.timed_out:
        return exception.NovaException(
            message=f"{what}: no answer from the {where} within "
            f"{e.timeout:g} s ({e.cause or 'timed out'})")
    if isinstance(e.cause, FileNotFoundError):
        return exception.HypervisorUnavailable(
            message=f"{what}: the {where} is not running "
            f"(socket {e.socket_path} does not exist)")
    if isinstance(e.cause, ConnectionRefusedError):
        return exception.HypervisorUnavailable(
            message=f"{what}: the {where} refused the connection "
            f"(is novadock serve running?)")
    return exception.HypervisorUnavailable(
        message=f"{what}: cannot talk to the {where}: {e.cause!r}")


def from_novadock_error(e):
    """The Nova exception for one failed exchange (novadock_client's)."""
    if isinstance(e, novadock_client.TransportError):
        return _unreachable(e)
    if isinstance(e, novadock_client.ServiceError) and e.code is not None:
        return to_exception(e.code, e.message, e.status)
    # An answer that is not the service's (not JSON, no error document).
    return exception.NovaException(message=str(e))
