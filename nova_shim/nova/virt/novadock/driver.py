"""nova.virt.novadock.DockerDriver: Nova's compute-driver contract, marshalled
to the novadock service.

Every decision (power states, limits, validation, what a reboot means) lives
in the service. This module only turns Nova's objects into the JSON the API
spec asks for and the answers back into what Nova expects.
"""

import base64
import copy

from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova import exception
from nova.api.metadata import base as instance_metadata
from nova.compute import power_state
from nova.compute import task_states
from nova.compute import vm_states
import nova.conf
from nova.console import type as console_type
from nova.image import glance
from nova.network import model as network_model
from nova.objects import diagnostics as diagnostics_obj
from nova.virt import driver
from nova.virt import hardware
from nova.virt.novadock import client as novadock_client
from nova.virt.novadock import events as novadock_events

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
# Traits the service reports from its engine (GET /v1/host/traits).
ENGINE_TRAIT_PREFIX = "CUSTOM_NOVADOCK_"

# The spec's PowerState strings, as nova.compute.power_state constants.
POWER_STATES = {
    "nostate": power_state.NOSTATE,
    "running": power_state.RUNNING,
    "paused": power_state.PAUSED,
    "shutdown": power_state.SHUTDOWN,
    "suspended": power_state.SUSPENDED,
}


def _field(obj, name, default=None):
    """A simple field of a Nova object (or DB row) without lazy-loading it."""
    is_set = getattr(obj, "obj_attr_is_set", None)
    if is_set is not None and name in getattr(obj, "fields", {}):
        return getattr(obj, name) if is_set(name) else default
    return getattr(obj, name, default)


def _as_string(value):
    """An image property value as the string Glance would hold."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return jsonutils.dumps(jsonutils.to_primitive(value))
    return str(value)


def _metadata(instance):
    md = _field(instance, "metadata") or {}
    if isinstance(md, dict):
        return {str(k): str(v) for k, v in md.items()}
    # A DB row: a list of InstanceMetadata rows.
    return {str(m["key"]): str(m["value"]) for m in md}


def _image_properties(image_meta):
    props = _field(image_meta, "properties")
    if props is None:
        return {}
    return {
        name: _as_string(getattr(props, name))
        for name in props.fields
        if props.obj_attr_is_set(name) and getattr(props, name) is not None
    }


# Image properties of novadock's own, which Nova's ImageMetaProps (known
# fields only) drops: they reach the driver as the instance's system
# metadata, image_<name> (nova.utils.get_system_metadata_from_image).
OWN_IMAGE_PROPERTIES = ("novadock_console_command",)


def _own_image_properties(instance):
    sysmeta = _field(instance, "system_metadata") or {}
    return {
        name: str(sysmeta["image_" + name])
        for name in OWN_IMAGE_PROPERTIES
        if sysmeta.get("image_" + name)
    }


def _network_info(network_info):
    """Nova's network_info (a NetworkInfo, its async wrapper or a list of VIF
    dicts) as JSON primitives; None stays None ("not given")."""
    if network_info is None:
        return None
    return jsonutils.loads(jsonutils.dumps(list(network_info)))


def _vif(vif):
    return jsonutils.loads(jsonutils.dumps(vif))


def _vif_plugged_events(network_info):
    """The network-vif-plugged events to wait for: the VIFs Neutron has not
    reported up yet (what the libvirt driver waits for)."""
    return [
        ("network-vif-plugged", vif["id"])
        for vif in network_info or []
        if vif.get("active", True) is False
        and vif.get("vnic_type") != network_model.VNIC_TYPE_REMOTE_MANAGED
    ]


def _neutron_failed_callback(event_name, instance):
    LOG.error("Neutron reported failure on event %s for instance %s",
              event_name, instance.uuid, instance=instance)
    if CONF.vif_plugging_is_fatal:
        raise exception.VirtualInterfaceCreateException()


def _migration_image(disk_info):
    """The Glance image a move to another host left in disk_info, or None
    for a resize on the same host."""
    if not disk_info:
        return None
    return jsonutils.loads(disk_info).get("novadock_image")


def glance_access(context):
    """Where Glance is and the user's token, for the service to act with the
    user's rights; None when Nova knows no Glance endpoint for the context."""
    token = getattr(context, "auth_token", None)
    if not token:
        return None
    try:
        endpoint = next(glance.get_api_servers(context))
    except Exception as e:  # noqa: BLE001 - any catalog failure means "unknown"
        LOG.debug("No Glance endpoint for this request: %s", e)
        return None
    return {"endpoint": endpoint, "token": token} if endpoint else None


def config_drive_files(instance, injected_files, admin_password, network_info):
    """Nova's own config drive content (what a VM's drive holds), made by
    Nova's metadata code: relative path -> base64 data, for the service."""
    extra_md = {"admin_pass": admin_password} if admin_password else {}
    md = instance_metadata.InstanceMetadata(
        instance, content=injected_files or [], extra_md=extra_md,
        network_info=network_info)
    files = {}
    for path, data in md.metadata_for_config_drive():
        if isinstance(data, str):
            data = data.encode("utf-8")
        files[path] = base64.b64encode(data).decode("ascii")
    return files


def spawn_request(instance, image_meta, network_info, power_on, access=None):
    """The SpawnRequest body for one Nova spawn() call."""
    flavor = instance.flavor
    request = {
        "instance": {
            "uuid": str(instance.uuid),
            "name": instance.name,
            "hostname": _field(instance, "hostname"),
            "project_id": _field(instance, "project_id"),
            "user_id": _field(instance, "user_id"),
            "metadata": _metadata(instance),
        },
        "flavor": {
            "name": flavor.name,
            "memory_mb": int(flavor.memory_mb),
            "vcpus": int(flavor.vcpus),
            "root_gb": int(flavor.root_gb or 0),
            "extra_specs": {
                str(k): str(v) for k, v in (flavor.extra_specs or {}).items()
            },
        },
        "image": {
            "id": _field(image_meta, "id"),
            "name": _field(image_meta, "name"),
            "properties": {**_own_image_properties(instance),
                           **_image_properties(image_meta)},
        },
        "network_info": _network_info(network_info) or [],
        "power_on": bool(power_on),
    }
    if access is not None:
        request["glance"] = access
    return request


class DockerDriver(driver.ComputeDriver):
    """Docker containers as Nova instances, through the novadock service."""

    def __init__(self, virtapi):
        super().__init__(virtapi)
        # Claim nothing until the service says what it supports.
        self.capabilities = copy.deepcopy(driver.ComputeDriver.capabilities)
        self._api = novadock_client.NovadockClient()
        self._events = novadock_events.EventListener(self.emit_event)

    # -- host ----------------------------------------------------------------

    def init_host(self, host):
        version = self._api.get_version()
        LOG.info(
            "novadock service %(svc)s (API %(api)s) on Docker %(docker)s "
            "(engine API %(dapi)s)",
            {
                "svc": version.get("service_version"),
                "api": version.get("api_version"),
                "docker": version.get("docker_version"),
                "dapi": version.get("docker_api_version"),
            },
        )
        caps = self._api.get_capabilities()
        self.capabilities.update({k: bool(v) for k, v in caps.items()})
        self._events.start()

    def cleanup_host(self, host):
        self._events.stop()

    def get_available_nodes(self, refresh=False):
        return [self._api.get_host()["nodename"]]

    def get_host_ip_addr(self):
        return self._api.get_host()["host_ip"]

    def get_host_uptime(self):
        return self._api.get_host()["uptime"]

    def get_host_cpu_stats(self):
        return self._api.get_host_cpu_stats()

    def get_available_resource(self, nodename):
        return self._api.get_host_resources()

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        current = provider_tree.data(nodename).inventory
        existing = {
            rc: {"allocation_ratio": item["allocation_ratio"]}
            for rc, item in current.items()
            if item.get("allocation_ratio") is not None
        }
        inventory = self._api.compute_inventory(existing)
        provider_tree.update_inventory(nodename, inventory)
        # The engine's own traits (disk limits, userns-remap): the service
        # says which hold now; one that stopped holding is taken back.
        traits = set(self._api.host_traits()["traits"])
        held = {t for t in provider_tree.data(nodename).traits
                if t.startswith(ENGINE_TRAIT_PREFIX)}
        if held - traits:
            provider_tree.remove_traits(nodename, *(held - traits))
        provider_tree.add_traits(nodename, *traits)

    # -- instances: queries ------------------------------------------------------

    def get_info(self, instance, use_cache=True):
        info = self._api.get_instance(instance.uuid)
        state = POWER_STATES.get(info["power_state"])
        if state is None:
            LOG.warning(
                "novadock reported unknown power state %r for %s",
                info["power_state"], instance.uuid,
            )
            state = power_state.NOSTATE
        return hardware.InstanceInfo(state=state, internal_id=info["container_id"])

    def list_instances(self):
        return [i["name"] for i in self._api.list_instances()["instances"]]

    def list_instance_uuids(self):
        return [i["uuid"] for i in self._api.list_instances()["instances"]]

    def instance_exists(self, instance):
        try:
            self._api.get_instance(instance.uuid)
        except exception.InstanceNotFound:
            return False
        return True

    def get_instance_diagnostics(self, instance):
        d = self._api.get_diagnostics(instance.uuid)
        state = POWER_STATES.get(d["power_state"], power_state.NOSTATE)
        # Nova's driver enum has no entry for novadock: that field stays unset.
        diags = diagnostics_obj.Diagnostics(
            state=power_state.STATE_MAP[state], hypervisor="docker",
            hypervisor_os="linux", uptime=d["uptime_seconds"], config_drive=False)
        # One entry: the CPU time of all the container's processes.
        diags.add_cpu(id=0, time=d["cpu_time_ns"])
        diags.memory_details = diagnostics_obj.MemoryDiagnostics(
            maximum=d["memory_limit_mb"], used=d["memory_used_mb"])
        for nic in d["nics"]:
            diags.add_nic(**{k: v for k, v in nic.items() if k != "devname"})
        return diags

    def get_diagnostics(self, instance):
        # The legacy flat form of the same figures (libvirt's key names).
        d = self._api.get_diagnostics(instance.uuid)
        flat = {"cpu0_time": d["cpu_time_ns"],
                "memory": d["memory_limit_mb"] * 1024,
                "memory-actual": d["memory_used_mb"] * 1024}
        for nic in d["nics"]:
            for key in ("rx", "tx"):
                flat[f"{nic['devname']}_{key}"] = nic[f"{key}_octets"]
                for part in ("packets", "errors", "drop"):
                    flat[f"{nic['devname']}_{key}_{part}"] = nic[f"{key}_{part}"]
        return flat

    def get_console_output(self, context, instance):
        return self._api.get_console_output(instance.uuid)["output"]

    def get_serial_console(self, context, instance):
        # nova-serialproxy connects to this TCP address; the service runs a
        # shell with a TTY in the container per connection. Nova's manager
        # checks [serial_console] enabled first, the service again.
        console = self._api.get_serial_console(instance.uuid)
        return console_type.ConsoleSerial(host=console["host"],
                                          port=console["port"])

    # -- instances: actions --------------------------------------------------------

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        request = spawn_request(instance, image_meta, network_info, power_on,
                                glance_access(context))
        self._add_config_drive(request, instance, injected_files,
                               admin_password, network_info)
        # Neutron says network-vif-plugged once its agent has wired the OVS
        # port the service creates; wait for the ports that are not up yet.
        timeout = CONF.vif_plugging_timeout
        events = _vif_plugged_events(network_info) if power_on and timeout else []
        try:
            with self.virtapi.wait_for_instance_event(
                instance, events, timeout=timeout,
                error_callback=_neutron_failed_callback,
            ):
                self._api.spawn(request)
            if events:
                LOG.info("Neutron reported network-vif-plugged for %s: "
                         "the ports are wired", ", ".join(p for _, p in events),
                         instance=instance)
        except exception.InstanceEventTimeout:
            if CONF.vif_plugging_is_fatal:
                self._api.destroy(instance.uuid, _network_info(network_info))
                raise exception.VirtualInterfaceCreateException() from None
            LOG.warning("Neutron did not confirm the VIFs of %s in %s s; "
                        "going on as vif_plugging_is_fatal is false",
                        instance.uuid, timeout, instance=instance)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        # A revert destroys the resized instance first; on the same host the
        # old container, set aside, must survive that.
        reverting = _field(instance, "task_state") == task_states.RESIZE_REVERTING
        if not reverting:
            # Deleted in the middle of a move to another host: the image
            # exported for it goes from Glance too (the service alone would
            # drop only the engine's copy, and with it the Glance id).
            self._forget_migration_images(context, instance)
        self._api.destroy(instance.uuid, _network_info(network_info),
                          keep_resize=reverting)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        self._api.destroy(instance.uuid, _network_info(network_info))

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        self._api.reboot(instance.uuid, str(reboot_type).upper(),
                         _network_info(network_info))

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._api.power_off(instance.uuid, int(timeout), int(retry_interval))

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        self._api.power_on(instance.uuid, _network_info(network_info))

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):
        self._api.power_on(instance.uuid, _network_info(network_info))

    def pause(self, instance):
        self._api.pause(instance.uuid)

    def unpause(self, instance):
        self._api.unpause(instance.uuid)

    def suspend(self, context, instance):
        self._api.suspend(instance.uuid)

    def resume(self, context, instance, network_info, block_device_info=None,
               share_info=None):
        self._api.resume(instance.uuid)

    def snapshot(self, context, instance, image_id, update_task_state):
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        self._api.snapshot(instance.uuid, image_id)
        update_task_state(task_state=task_states.IMAGE_UPLOADING,
                          expected_state=task_states.IMAGE_PENDING_UPLOAD)
        self._upload_image(context, image_id)

    def _upload_image(self, context, image_id):
        """Sends the engine's image for Glance image ``image_id`` to Glance."""
        access = glance_access(context)
        if access is not None:
            self._api.upload_image(image_id, access)
            return
        # No endpoint to hand the service (Nova's in-process Glance in its own
        # tests): pipe the service's tarball through Nova's image API.
        glance.API().update(
            context, image_id,
            {"container_format": "docker", "disk_format": "raw"},
            data=self._api.read_image(image_id), purge_props=False)

    def _download_image(self, context, image_id):
        """Loads Glance image ``image_id`` into the engine through Nova's image
        API, for when the service has no endpoint to fetch it from."""
        data = glance.API().download(context, image_id)
        self._api.store_image(image_id, [data] if isinstance(data, bytes) else data)

    def cache_image(self, context, image_id):
        access = glance_access(context)
        if access is None:
            raise exception.ImageNotFound(
                image_id=image_id,
                message=f"image {image_id}: no Glance endpoint to fetch it from")
        return bool(self._api.fetch_image(image_id, access)["downloaded"])

    def manage_image_cache(self, context, all_instances):
        if CONF.image_cache.remove_unused_base_images:
            removed = self._api.prune_images(
                CONF.image_cache.remove_unused_original_minimum_age_seconds)
            if removed["removed"]:
                LOG.info("Removed unused cached images: %s",
                         ", ".join(removed["removed"]))

    # -- resize and cold migration ----------------------------------------------

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):
        moved = self._api.migrate(instance.uuid, dest, int(timeout),
                                  int(retry_interval))
        if moved["same_host"]:
            return ""
        # To another host the filesystem travels as a private Glance image;
        # disk_info tells the destination which. It belongs to the
        # instance's project, as its snapshots do: an admin migrates, the
        # project's member confirms, and the confirm deletes the image.
        try:
            image = glance.API().create(context, {
                "name": f"{instance.uuid}-migration",
                "container_format": "docker",
                "disk_format": "raw",
                "visibility": "private",
                "owner": instance.project_id,
                "properties": {"novadock_migration_of": instance.uuid},
            })
            self._api.export_migration_image(instance.uuid, image["id"])
            self._upload_image(context, image["id"])
        except Exception as e:
            # Nothing has left the host: the instance comes back as it was
            # and Nova rolls the migration back.
            LOG.error("Exporting the instance for %s failed: %s", dest, e,
                      instance=instance)
            self._api.revert_migration(
                instance.uuid, _network_info(network_info) or [],
                _field(instance, "vm_state") != vm_states.STOPPED)
            self._forget_migration_images(context, instance)
            raise exception.InstanceFaultRollback(inner_exception=e) from e
        return jsonutils.dumps({"novadock_image": image["id"]})

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance, allocations,
                         block_device_info=None, power_on=True, share_info=None):
        moved = _migration_image(disk_info)
        if moved is None:
            request = spawn_request(instance, image_meta, network_info, power_on)
            self._add_config_drive(request, instance, None, None, network_info)
            self._api.finish_migration(instance.uuid, request)
            return
        access = glance_access(context)
        if access is None:
            self._download_image(context, moved)
        request = spawn_request(instance, image_meta, network_info, power_on,
                                access)
        request["image"]["id"] = moved
        self._add_config_drive(request, instance, None, None, network_info)
        self._api.spawn(request)

    @staticmethod
    def _add_config_drive(request, instance, injected_files, admin_password,
                          network_info):
        if CONF.novadock.config_drive:
            request["config_drive"] = config_drive_files(
                instance, injected_files, admin_password, network_info)
            # Nova's API shows it (saved with the instance after the spawn),
            # as the libvirt driver's configdrive.update_instance does.
            instance.config_drive = True

    def confirm_migration(self, context, migration, instance, network_info):
        self._api.confirm_migration(instance.uuid)
        self._forget_migration_images(context, instance)

    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True,
                                share_info=None):
        self._api.revert_migration(
            instance.uuid, _network_info(network_info) or [], bool(power_on))
        self._forget_migration_images(context, instance)

    def _forget_migration_images(self, context, instance):
        """Deletes the images exported for a move, here and in Glance."""
        for image_id in self._api.forget_migration_images(instance.uuid)["images"]:
            try:
                glance.API().delete(context, image_id)
            except exception.ImageNotFound:
                pass
            except Exception as e:  # noqa: BLE001 - a leftover image is no failure
                LOG.warning("Could not delete migration image %s: %s",
                            image_id, e, instance=instance)

    def poll_rebooting_instances(self, timeout, instances):
        # Reboots finish within the reboot call: nothing is ever left rebooting.
        pass

    def plug_vifs(self, instance, network_info):
        # nova-compute's start-up check: a running container gets back the
        # VIFs it lacks.
        try:
            self._api.plug_vifs(instance.uuid, _network_info(network_info) or [])
        except exception.InvalidInput as e:
            # A VIF novadock cannot plug (not OVS, binding failed) is, for
            # Nova's start-up check, a plug failure.
            raise exception.VirtualInterfacePlugException(str(e)) from e
        except exception.InstanceNotFound as e:
            # The container is gone (removed behind Nova's back): Nova's
            # start-up check then puts the instance in ERROR and carries on,
            # where any other exception would stop nova-compute.
            LOG.error("Instance has no container on this host any more: %s",
                      e, instance=instance)
            raise exception.VirtualInterfacePlugException(
                f"instance {instance.uuid} has no container on this host") from e

    def attach_interface(self, context, instance, image_meta, vif):
        try:
            self._api.attach_interface(instance.uuid, _vif(vif))
        except exception.VirtualInterfacePlugException as e:
            LOG.error("Attaching port %s failed: %s", vif["id"], e,
                      instance=instance)
            raise exception.InterfaceAttachFailed(
                instance_uuid=instance.uuid) from e

    def detach_interface(self, context, instance, vif):
        self._api.detach_interface(instance.uuid, vif["id"])
