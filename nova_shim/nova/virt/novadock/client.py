"""HTTP/1.1 over the novadock service's Unix socket.

One connection per call, a timeout on every call. Methods return the decoded
JSON body; an error body becomes the matching Nova exception (errors.py), and a
service that cannot be reached becomes HypervisorUnavailable naming the socket.
"""

import http.client
import json
import socket
from urllib.parse import quote

from oslo_log import log as logging

from nova import exception
from nova.virt.novadock import conf as novadock_conf
from nova.virt.novadock import errors

LOG = logging.getLogger(__name__)
CONF = novadock_conf.CONF


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose transport is an AF_UNIX stream socket."""

    def __init__(self, socket_path, timeout):
        # The host name only fills the Host header.
        super().__init__("novadock", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Response:
    """What one exchange gave back: status, headers and the raw body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


class NovadockClient:
    """The driver's view of the service's /v1 API."""

    def __init__(self, socket_path=None, api_timeout=None, action_timeout=None):
        self._socket_path = socket_path
        self._api_timeout = api_timeout
        self._action_timeout = action_timeout

    # Read the options at call time so CONF overrides apply without a restart.
    @property
    def socket_path(self):
        return self._socket_path or CONF.novadock.socket_path

    @property
    def api_timeout(self):
        return self._api_timeout or CONF.novadock.api_timeout

    @property
    def action_timeout(self):
        return self._action_timeout or CONF.novadock.action_timeout

    # -- transport -------------------------------------------------------

    def _exchange(self, method, path, body, timeout):
        """Send one request and read the whole response. Raises OSError-family
        and http.client errors as they come."""
        conn = UnixHTTPConnection(self.socket_path, timeout)
        try:
            headers = {"Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def request(self, method, path, body=None, action=False):
        """One call: returns the decoded JSON body (None for an empty one)."""
        timeout = self.action_timeout if action else self.api_timeout
        try:
            resp = self._exchange(method, path, body, timeout)
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(method, path, e, timeout) from e
        return self._decode(method, path, resp)

    def _unreachable(self, method, path, e, timeout):
        """The Nova exception for a service that did not answer."""
        where = f"novadock service at {self.socket_path}"
        if isinstance(e, TimeoutError):
            return exception.NovaException(
                message=f"{method} {path}: no answer from the {where} within "
                f"{timeout:g} s ({e or 'timed out'})")
        if isinstance(e, FileNotFoundError):
            return exception.HypervisorUnavailable(
                message=f"{method} {path}: the {where} is not running "
                f"(socket {self.socket_path} does not exist)")
        if isinstance(e, ConnectionRefusedError):
            return exception.HypervisorUnavailable(
                message=f"{method} {path}: the {where} refused the connection "
                f"(is novadock serve running?)")
        return exception.HypervisorUnavailable(
            message=f"{method} {path}: cannot talk to the {where}: {e!r}")

    def _decode(self, method, path, resp):
        """The JSON body of a 2xx answer; the matching exception otherwise."""
        where = f"novadock service at {self.socket_path}"
        try:
            decoded = resp.json()
        except ValueError as e:
            raise exception.NovaException(
                message=f"{method} {path}: the {where} answered HTTP "
                f"{resp.status} with a body that is not JSON: "
                f"{resp.body[:200]!r}"
            ) from e

        if 200 <= resp.status < 300:
            return decoded
        err = decoded.get("error") if isinstance(decoded, dict) else None
        if isinstance(err, dict) and "code" in err:
            raise errors.to_exception(
                err.get("code"), err.get("message", ""), resp.status
            )
        raise exception.NovaException(
            message=f"{method} {path}: the {where} answered HTTP {resp.status} "
            f"without an error body: {resp.body[:200]!r}"
        )

    # -- the API, one method per operation ---------------------------------

    @staticmethod
    def _instance_path(uuid, suffix=""):
        return f"/v1/instances/{quote(str(uuid), safe='')}{suffix}"

    def get_version(self):
        return self.request("GET", "/v1/version")

    def get_capabilities(self):
        return self.request("GET", "/v1/capabilities")

    def get_host(self):
        return self.request("GET", "/v1/host")

    def get_host_resources(self):
        return self.request("GET", "/v1/host/resources")

    def compute_inventory(self, existing):
        return self.request("POST", "/v1/host/inventory", {"existing": existing})

    def get_host_cpu_stats(self):
        return self.request("GET", "/v1/host/cpu-stats")

    def list_instances(self):
        return self.request("GET", "/v1/instances")

    def spawn(self, spawn_request):
        return self.request("POST", "/v1/instances", spawn_request, action=True)

    def get_instance(self, uuid):
        return self.request("GET", self._instance_path(uuid))

    @staticmethod
    def _network_info_body(network_info):
        return None if network_info is None else {"network_info": network_info}

    def destroy(self, uuid, network_info=None, keep_resize=False):
        body = self._network_info_body(network_info)
        if keep_resize:
            body = dict(body or {}, keep_resize=True)
        return self.request("DELETE", self._instance_path(uuid), body, action=True)

    def reboot(self, uuid, reboot_type, network_info=None):
        body = {"type": reboot_type}
        if network_info is not None:
            body["network_info"] = network_info
        return self.request(
            "POST", self._instance_path(uuid, "/reboot"), body, action=True
        )

    def power_off(self, uuid, timeout, retry_interval):
        return self.request(
            "POST",
            self._instance_path(uuid, "/power-off"),
            {"timeout": timeout, "retry_interval": retry_interval},
            action=True,
        )

    def power_on(self, uuid, network_info=None):
        return self.request(
            "POST", self._instance_path(uuid, "/power-on"),
            self._network_info_body(network_info), action=True,
        )

    def pause(self, uuid):
        return self.request("POST", self._instance_path(uuid, "/pause"), action=True)

    def unpause(self, uuid):
        return self.request(
            "POST", self._instance_path(uuid, "/unpause"), action=True
        )

    def suspend(self, uuid):
        return self.request(
            "POST", self._instance_path(uuid, "/suspend"), action=True
        )

    def resume(self, uuid):
        return self.request("POST", self._instance_path(uuid, "/resume"), action=True)

    def get_console_output(self, uuid):
        return self.request("GET", self._instance_path(uuid, "/console"))

    def attach_interface(self, uuid, vif):
        return self.request(
            "POST", self._instance_path(uuid, "/interfaces"), {"vif": vif},
            action=True,
        )

    def detach_interface(self, uuid, port_id):
        path = self._instance_path(uuid, f"/interfaces/{quote(str(port_id), safe='')}")
        return self.request("DELETE", path, action=True)

    def snapshot(self, uuid, image_id):
        return self.request(
            "POST", self._instance_path(uuid, "/snapshot"), {"image_id": image_id},
            action=True,
        )

    @staticmethod
    def _image_path(image_id, suffix=""):
        return f"/v1/images/{quote(str(image_id), safe='')}{suffix}"

    def upload_image(self, image_id, access):
        return self.request(
            "POST", self._image_path(image_id, "/upload"), {"glance": access},
            action=True,
        )

    def fetch_image(self, image_id, access):
        return self.request(
            "POST", self._image_path(image_id, "/fetch"), {"glance": access},
            action=True,
        )

    def prune_images(self, min_age_seconds):
        return self.request(
            "POST", "/v1/images/prune", {"min_age_seconds": int(min_age_seconds)},
            action=True,
        )

    def read_image(self, image_id, chunk_size=65536):
        """The stored image's tarball as an iterator of chunks, streamed."""
        path = self._image_path(image_id, "/data")
        conn = UnixHTTPConnection(self.socket_path, self.action_timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise self._unreachable("GET", path, e, self.action_timeout) from e
        if not 200 <= resp.status < 300:
            body = resp.read()
            conn.close()
            # An error answer: _decode raises the matching exception.
            self._decode("GET", path, Response(resp.status, {}, body))

        def chunks():
            try:
                while True:
                    data = resp.read(chunk_size)
                    if not data:
                        return
                    yield data
            finally:
                conn.close()

        return chunks()

    def store_image(self, image_id, chunks):
        """``PUT /v1/images/<id>/data``: loads the tarball yielded by
        ``chunks`` into the engine, sent chunk by chunk as it comes."""
        path = self._image_path(image_id, "/data")
        conn = UnixHTTPConnection(self.socket_path, self.action_timeout)
        try:
            conn.request("PUT", path, body=(c for c in chunks if c),
                         headers={"Accept": "application/json",
                                  "Content-Type": "application/x-tar"},
                         encode_chunked=True)
            r = conn.getresponse()
            resp = Response(r.status, dict(r.getheaders()), r.read())
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable("PUT", path, e, self.action_timeout) from e
        finally:
            conn.close()
        return self._decode("PUT", path, resp)

    def migrate(self, uuid, dest, timeout, retry_interval):
        return self.request(
            "POST", self._instance_path(uuid, "/migrate"),
            {"dest": dest, "timeout": timeout, "retry_interval": retry_interval},
            action=True,
        )

    def export_migration_image(self, uuid, image_id):
        return self.request(
            "POST", self._instance_path(uuid, "/migration-images"),
            {"image_id": image_id}, action=True,
        )

    def forget_migration_images(self, uuid):
        return self.request(
            "DELETE", self._instance_path(uuid, "/migration-images"), action=True
        )

    def finish_migration(self, uuid, spawn_request):
        return self.request(
            "POST", self._instance_path(uuid, "/finish-migration"), spawn_request,
            action=True,
        )

    def confirm_migration(self, uuid):
        return self.request(
            "POST", self._instance_path(uuid, "/confirm-migration"), action=True
        )

    def revert_migration(self, uuid, network_info, power_on):
        return self.request(
            "POST", self._instance_path(uuid, "/revert-migration"),
            {"network_info": network_info, "power_on": power_on}, action=True,
        )

    def get_diagnostics(self, uuid):
        return self.request("GET", self._instance_path(uuid, "/diagnostics"))

    def plug_vifs(self, uuid, network_info):
        return self.request(
            "POST", self._instance_path(uuid, "/plug"),
            {"network_info": network_info}, action=True,
        )
