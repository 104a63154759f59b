"""The driver's calls to the novadock service's /v1 API.

The transport (HTTP/1.1 over the Unix socket, one connection per call, a
timeout on every call) is novadock_client's; an error becomes the matching
Nova exception (errors.py), and a service that cannot be reached becomes
HypervisorUnavailable naming the socket.
"""

from urllib.parse import quote

import novadock_client
from oslo_log import log as logging

from nova.virt.novadock import conf as novadock_conf
from nova.virt.novadock import errors

LOG = logging.getLogger(__name__)
CONF = novadock_conf.CONF


class NovadockClient(novadock_client.Client):
    """The driver's view of the service's /v1 API."""

    def __init__(self, socket_path=None, api_timeout=None, action_timeout=None):
        super().__init__(socket_path, translate=errors.from_novadock_error)
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

    def request(self, method, path, body=None, action=False):
        """One call: returns the decoded JSON body (None for an empty one)."""
        timeout = self.action_timeout if action else self.api_timeout
        return self.call(method, path, body, timeout)

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

    def host_traits(self):
        return self.request("GET", "/v1/host/traits")

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

    def get_serial_console(self, uuid):
        # POST: the service may open a listener for it.
        return self.request("POST", self._instance_path(uuid, "/serial-console"))

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
        chunks, _length = self.download(
            self._image_path(image_id, "/data"), self.action_timeout,
            chunk_size=chunk_size, accept="*/*")
        return chunks

    def store_image(self, image_id, chunks):
        """``PUT /v1/images/<id>/data``: loads the tarball yielded by
        ``chunks`` into the engine, sent chunk by chunk as it comes."""
        return self.upload("PUT", self._image_path(image_id, "/data"), chunks,
                           self.action_timeout)

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
