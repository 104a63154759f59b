"""Spawn and the instance lifecycle, as a user of the host sees them."""

import unittest
import uuid

from nova import exception
from nova.compute import power_state
from nova.compute import task_states
from tests import base
from tests import service

LABELS = service.LABEL_PREFIX
MiB = 1024 * 1024


def nova_labels(container):
    labels = container["Config"].get("Labels") or {}
    return {k[len(LABELS):]: v for k, v in labels.items() if k.startswith(LABELS)}


class SpawnTestCase(base.FunctionalTestCase):

    def test_spawn_running_container_as_asked(self):
        inst = self.make_instance(
            memory_mb=96, vcpus=2, hostname="web-1",
            metadata={"GREETING": "hello world", "_under_score": "1"})
        self.spawn(inst)

        info = self.driver.get_info(inst)
        self.assertEqual(power_state.RUNNING, info.state)
        c = self.container(inst)
        self.assertIsNotNone(c, "no container named nova-<uuid>")
        self.assertEqual(f"/nova-{inst.uuid}", c["Name"])
        self.assertEqual(c["Id"], info.internal_id)
        self.assertTrue(c["State"]["Running"])

        labels = nova_labels(c)
        values = set(labels.values())
        for wanted in (inst.uuid, inst.project_id, inst.user_id, inst.flavor.name):
            self.assertIn(wanted, values, f"no {LABELS}* label = {wanted}: {labels}")
        by_topic = {t: [v for k, v in labels.items() if t in k]
                    for t in ("uuid", "project", "user", "flavor")}
        self.assertIn(inst.uuid, by_topic["uuid"], labels)
        self.assertIn(inst.project_id, by_topic["project"], labels)
        self.assertIn(inst.user_id, by_topic["user"], labels)
        self.assertIn(inst.flavor.name, by_topic["flavor"], labels)

        self.assertEqual("web-1", c["Config"]["Hostname"])
        hc = c["HostConfig"]
        self.assertEqual(96 * MiB, hc["Memory"])
        self.assertEqual(2 * 1024, hc["CpuShares"])
        self.assertTrue(hc.get("PidsLimit") and hc["PidsLimit"] > 0,
                        f"no pids limit: {hc.get('PidsLimit')!r}")
        self.assertFalse(hc["Privileged"])
        self.assertTrue(
            any(o.replace("=", ":").split(":")[0] == "no-new-privileges"
                and not o.endswith("false")
                for o in hc.get("SecurityOpt") or []),
            f"no-new-privileges not set: {hc.get('SecurityOpt')}")

        env = c["Config"].get("Env") or []
        self.assertIn("GREETING=hello world", env)
        self.assertIn("_under_score=1", env)

        self.assertIn(inst.name, self.driver.list_instances())
        self.assertIn(inst.uuid, self.driver.list_instance_uuids())
        self.assertTrue(self.driver.instance_exists(inst))
        self.wait_for(lambda: "booted" in self.driver.get_console_output(
            self.ctxt, inst), what="'booted' on the console")

    def test_cpu_extra_specs(self):
        inst = self.spawn(vcpus=1, extra_specs={
            "quota:cpu_shares": "512",
            "quota:cpu_quota": "50000",
            "quota:cpu_period": "100000",
        })
        hc = self.container(inst)["HostConfig"]
        self.assertEqual(512, hc["CpuShares"])
        self.assertEqual(50000, hc["CpuQuota"])
        self.assertEqual(100000, hc["CpuPeriod"])

    def test_os_command_line_overrides_command(self):
        img = self.make_image_meta(
            os_command_line='sh -c "echo custom-cmd-ran; '
                            'while :; do sleep 1; done"')
        inst = self.spawn(image_meta=img)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        self.wait_for(lambda: "custom-cmd-ran" in self.driver.get_console_output(
            self.ctxt, inst), what="the overriding command's output")
        out = self.driver.get_console_output(self.ctxt, inst)
        self.assertNotIn("booted", out)

    def test_spawn_powered_off(self):
        inst = self.spawn(power_on=False)
        self.assertEqual(power_state.SHUTDOWN, self.driver.get_info(inst).state)
        self.driver.power_on(self.ctxt, inst, None)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)

    def test_spawn_twice_is_instance_exists(self):
        inst = self.spawn()
        self.assertRaises(exception.InstanceExists, self.spawn, inst)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)

    def _assert_refused_metadata(self, metadata):
        inst = self.make_instance(metadata=metadata)
        self.assertRaises((exception.InvalidInput, exception.InvalidMetadata),
                          self.spawn, inst)
        self.assertIsNone(self.container(inst))
        self.assertEqual([], service.containers_for_uuids([inst.uuid]))

    def test_metadata_name_starting_with_digit_refused(self):
        self._assert_refused_metadata({"1BAD": "x"})

    def test_metadata_name_with_equals_refused(self):
        self._assert_refused_metadata({"A=B": "x"})

    def test_missing_image_is_image_not_found(self):
        inst = self.make_instance()
        img = self.make_image_meta(image_id=str(uuid.uuid4()),
                                   name=f"novadock-no-such-image-{uuid.uuid4().hex}")
        self.assertRaises(exception.ImageNotFound, self.spawn, inst, img)
        self.assertEqual([], service.containers_for_uuids([inst.uuid]))

    def test_command_exiting_at_once_fails_spawn(self):
        inst = self.make_instance()
        img = self.make_image_meta(os_command_line='sh -c "echo dying-now; exit 3"')
        with self.assertRaises(exception.InstanceDeployFailure) as cm:
            self.spawn(inst, img)
        self.assertIn("dying-now", str(cm.exception))
        self.assertEqual([], service.containers_for_uuids([inst.uuid]))
        self.assertRaises(exception.InstanceNotFound, self.driver.get_info, inst)

    def test_oom_killed_container_is_shut_down_and_says_why(self):
        img = self.make_image_meta(
            os_command_line='sh -c "echo booted; sleep 5; x=a; '
                            'while :; do x=$x$x; done"')
        inst = self.spawn(image_meta=img, memory_mb=16)
        self.assertEqual(16 * MiB, self.container(inst)["HostConfig"]["Memory"])
        self.wait_for(
            lambda: self.driver.get_info(inst).state == power_state.SHUTDOWN,
            timeout=60, what="SHUTDOWN after the OOM kill")
        self.assertTrue(self.container(inst)["State"]["OOMKilled"])
        self.assertIn("killed by the OOM killer",
                      self.driver.get_console_output(None, inst))


class LifecycleTestCase(base.FunctionalTestCase):

    def state(self, inst):
        return self.driver.get_info(inst).state

    def started_at(self, inst):
        return self.container(inst)["State"]["StartedAt"]

    def test_lifecycle(self):
        inst = self.spawn()
        self.assertEqual(power_state.RUNNING, self.state(inst))

        self.driver.power_off(inst, timeout=10, retry_interval=2)
        self.assertEqual(power_state.SHUTDOWN, self.state(inst))
        self.assertFalse(self.container(inst)["State"]["Running"])
        self.driver.power_on(self.ctxt, inst, None)
        self.assertEqual(power_state.RUNNING, self.state(inst))
        self.driver.power_on(self.ctxt, inst, None)  # running: left as it is
        self.assertEqual(power_state.RUNNING, self.state(inst))

        self.driver.pause(inst)
        self.assertEqual(power_state.PAUSED, self.state(inst))
        self.assertTrue(self.container(inst)["State"]["Paused"])
        self.driver.unpause(inst)
        self.assertEqual(power_state.RUNNING, self.state(inst))

        self.driver.suspend(self.ctxt, inst)
        self.assertEqual(power_state.SUSPENDED, self.state(inst))
        self.driver.resume(self.ctxt, inst, None)
        self.assertEqual(power_state.RUNNING, self.state(inst))

        for kind in ("SOFT", "HARD"):
            before = self.started_at(inst)
            self.driver.reboot(self.ctxt, inst, None, kind)
            self.assertEqual(power_state.RUNNING, self.state(inst), kind)
            self.assertNotEqual(before, self.started_at(inst),
                                f"{kind} reboot did not restart the container")

        self.driver.power_off(inst)  # timeout 0: killed at once
        self.assertEqual(power_state.SHUTDOWN, self.state(inst))
        self.driver.resume_state_on_host_boot(self.ctxt, inst, None, None)
        self.assertEqual(power_state.RUNNING, self.state(inst))

        self.wait_for(lambda: "booted" in self.driver.get_console_output(
            self.ctxt, inst), what="'booted' on the console")
        self.assertIsInstance(self.driver.get_console_output(self.ctxt, inst), str)

        self.driver.destroy(self.ctxt, inst, None)
        self.assertIsNone(self.container(inst))
        self.assertNotIn(inst.name, self.driver.list_instances())
        self.assertFalse(self.driver.instance_exists(inst))
        self.driver.destroy(self.ctxt, inst, None)  # a second one is fine
        self.driver.cleanup(self.ctxt, inst, None)
        self.assertRaises(exception.InstanceNotFound, self.driver.get_info, inst)

    def test_reboot_of_stopped_instance_runs_it(self):
        inst = self.spawn()
        self.driver.power_off(inst)
        self.driver.reboot(self.ctxt, inst, None, "HARD")
        self.assertEqual(power_state.RUNNING, self.state(inst))

    def test_pause_or_suspend_of_stopped_instance_is_invalid_state(self):
        inst = self.spawn()
        self.driver.power_off(inst)
        self.assertRaises(exception.InstanceInvalidState, self.driver.pause, inst)
        self.assertRaises(exception.InstanceInvalidState, self.driver.suspend,
                          self.ctxt, inst)
        self.assertEqual(power_state.SHUTDOWN, self.state(inst))

    def test_actions_on_missing_instance(self):
        inst = self.make_instance()
        self.assertRaises(exception.InstanceNotFound, self.driver.get_info, inst)
        self.assertRaises(exception.InstanceNotFound, self.driver.power_on,
                          self.ctxt, inst, None)
        self.assertRaises(exception.InstanceNotFound, self.driver.pause, inst)
        self.assertRaises(exception.InstanceNotFound,
                          self.driver.get_console_output, self.ctxt, inst)
        self.driver.destroy(self.ctxt, inst, None)


if __name__ == "__main__":
    unittest.main()


class ResizeTestCase(base.FunctionalTestCase):
    """Resize on the same host through the driver, as Nova's resize drives it."""

    def _resize(self, inst, memory_mb):
        host_ip = self.driver.get_host_ip_addr()
        self.driver.migrate_disk_and_power_off(
            self.ctxt, inst, host_ip, inst.flavor, None)
        aside = service.inspect_container(f"nova-{inst.uuid}-resize")
        self.assertFalse(aside["State"]["Running"], "set aside, stopped")
        inst.flavor.memory_mb = memory_mb
        self.driver.finish_migration(
            self.ctxt, None, inst, "", None, self.make_image_meta(), True, {})

    def test_resize_confirm_and_revert(self):
        inst = self.spawn(memory_mb=64)
        service.docker("exec", f"nova-{inst.uuid}", "sh", "-c",
                       "echo kept > /root/marker")
        self._resize(inst, 96)
        self.assertEqual(96 * 2**20, self.container(inst)["HostConfig"]["Memory"])
        self.assertEqual("kept\n", service.docker(
            "exec", f"nova-{inst.uuid}", "cat", "/root/marker").stdout)
        self.driver.confirm_migration(self.ctxt, None, inst, None)
        self.assertIsNone(service.inspect_container(f"nova-{inst.uuid}-resize"))

        self._resize(inst, 128)
        # Nova's revert: the resized instance is destroyed first (on the
        # destination, here the same host), then the source reverts.
        inst.task_state = task_states.RESIZE_REVERTING
        self.driver.destroy(self.ctxt, inst, None)
        self.assertIsNotNone(service.inspect_container(f"nova-{inst.uuid}-resize"))
        self.driver.finish_revert_migration(self.ctxt, inst, None, None)
        inst.task_state = None
        self.assertEqual(96 * 2**20, self.container(inst)["HostConfig"]["Memory"])
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)

    def test_a_failed_export_to_another_host_rolls_back(self):
        # No Glance here to carry the filesystem: the move is refused and
        # the instance runs on as before.
        inst = self.spawn()
        self.assertRaises(
            exception.InstanceFaultRollback,
            self.driver.migrate_disk_and_power_off,
            self.ctxt, inst, "198.18.250.250", inst.flavor, None)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        self.assertIsNone(service.inspect_container(f"nova-{inst.uuid}-resize"))
