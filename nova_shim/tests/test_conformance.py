"""Nova's own virt-driver conformance suite, against the real service.

``_VirtDriverTestCase`` swallows NotImplementedError and logs
"<driver> does not implement <method> required for test <test>" instead:
those lines are the driver's gaps. Besides nova's own log capture, they are
appended to the file named by ``$NOVADOCK_GAPS_FILE`` (tools/run-conformance.sh
counts them from there).

Run it serially: the suite counts every instance on the host.
"""

import logging
import os

from nova import test
from nova.tests.unit.virt import test_virt_drivers
import nova.virt.novadock  # noqa: F401  (registers [novadock] options)
from tests import service
from tests import spec

SUITE_IMAGE_ID = "cedef40a-ed67-4d10-800e-17455edce175"  # nova's fake glance


class _GapFileHandler(logging.Handler):
    def __init__(self, path):
        super().__init__(logging.ERROR)
        self.path = path

    def emit(self, record):
        msg = record.getMessage()
        if "does not implement" in msg:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(msg.replace("\n", " ") + "\n")


class NovadockConformanceTestCase(test_virt_drivers._VirtDriverTestCase,
                                  test.TestCase):
    driver_module = "nova.virt.novadock.DockerDriver"

    def setUp(self):
        svc = service.get_service()
        super().setUp()
        self.flags(socket_path=svc.socket_path, group="novadock")
        self.api = spec.ValidatingClient()
        self.connection._api = self.api
        self.addCleanup(
            lambda: service.remove_containers_for_uuids(self.api.spawned_uuids))
        ref = service.tag_test_image(SUITE_IMAGE_ID)
        self.addCleanup(service.untag, ref)
        gaps = os.environ.get("NOVADOCK_GAPS_FILE")
        if gaps:
            handler = _GapFileHandler(gaps)
            logger = logging.getLogger(test_virt_drivers.__name__)
            logger.addHandler(handler)
            self.addCleanup(logger.removeHandler, handler)
