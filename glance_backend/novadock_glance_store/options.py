"""The driver's configuration options.

They live in the store's own group (``[<backend name>]`` with
``enabled_backends = <backend name>:novadock``, or ``[glance_store]`` with the
legacy single-store setup), falling back to ``[backend_defaults]``.
"""

from oslo_config import cfg

DEFAULT_SOCKET_PATH = "/run/novadock/novadock.sock"

OPTS = [
    cfg.StrOpt(
        "novadock_socket_path",
        default=DEFAULT_SOCKET_PATH,
        help="Path of the novadock service's Unix socket (the service's "
        "[novadock] socket_path in nova.conf). glance-api's user needs write "
        "access to it (the socket's [novadock] socket_group)."),
    cfg.FloatOpt(
        "novadock_timeout",
        default=300.0,
        min=1.0,
        help="Seconds the driver waits for the service to make progress: "
        "to connect, to take the next chunk of an upload, to send the next "
        "chunk of a download, and for the answer after an upload (the service "
        "loads the image and hashes its docker save before answering, which "
        "takes longer for a larger image)."),
]


def list_opts():
    """For oslo-config-generator: the options of this driver's group."""
    return [("glance_store", OPTS)]
