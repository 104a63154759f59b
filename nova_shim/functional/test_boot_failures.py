"""Boots that fail the same way on any host end in ERROR at once, with the
service's reason as the fault, instead of being rescheduled to the other host
until Nova gives up with "Exceeded maximum number of retries" (issue 19)."""

from functional import base
from functional import images


class BootFailureTest(base.NovadockTestCase):

    def _boot_failing(self, image=images.IMAGE_ID, metadata=None):
        body = self._build_server(
            image_uuid=image, flavor_id=self.flavor_small,
            networks=[{"uuid": self.neutron.network_1["id"]}])
        if metadata:
            body["metadata"] = metadata
        server = self.api.post_server({"server": body})
        self._uuids.add(server["id"])
        return self._wait_status(server, "ERROR")

    def _build_attempts(self, server):
        """The hosts that tried to build the server, from its create action."""
        actions = self.api.get_instance_actions(server["id"])
        create = [a for a in actions if a["action"] == "create"][0]
        action = self.api.api_get(
            f"/servers/{server['id']}/os-instance-actions/{create['request_id']}"
        ).body["instanceAction"]
        return [e.get("host") for e in action["events"]
                if e["event"] == "compute__do_build_and_run_instance"]

    def _assert_not_rescheduled(self, server):
        fault = server["fault"]["message"]
        self.assertNotIn("retries", fault)
        self.assertEqual(1, len(self._build_attempts(server)), fault)
        for host in self.HOSTS:
            self.assertIsNone(self.container(host, server), host)
        return fault

    def test_command_exiting_at_once(self):
        server = self._boot_failing(images.DYING_IMAGE_ID)
        fault = self._assert_not_rescheduled(server)
        self.assertIn("exited with code 3", fault)
        self.assertIn("dying-now", fault)

    def test_metadata_key_that_cannot_be_a_variable(self):
        server = self._boot_failing(metadata={"not-a-variable": "1"})
        fault = self._assert_not_rescheduled(server)
        self.assertIn("not-a-variable", fault)
