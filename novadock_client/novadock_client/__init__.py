"""The novadock service's client side, shared by the Nova driver
(nova_shim) and the glance_store driver (glance_backend): the Unix socket
transport, streaming, and the service's errors as one typed exception. Each
driver keeps only its mapping of these exceptions to its framework's own.
"""

from novadock_client.transport import READ_CHUNK
from novadock_client.transport import Client
from novadock_client.transport import MalformedAnswer
from novadock_client.transport import NovadockError
from novadock_client.transport import Response
from novadock_client.transport import ServiceError
from novadock_client.transport import TransportError
from novadock_client.transport import UnixHTTPConnection
from novadock_client.transport import parse_error

__all__ = ["Client", "MalformedAnswer", "NovadockError", "READ_CHUNK",
           "Response", "ServiceError", "TransportError", "UnixHTTPConnection",
           "parse_error"]
