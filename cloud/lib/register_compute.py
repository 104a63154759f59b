"""Records this host's nova-compute service and node identity before its
first start, as that start would.

    register_compute.py NOVA_CONF

Why: a new nova-compute refuses to start while its driver already lists
instances, and novadock lists every Nova-labelled container of the host's
dockerd, so on a machine whose dockerd also runs novadock's own tests the
first start fails at random. Once registered, nova-compute starts as on any
later boot.
"""

import os
import sys
import uuid

from nova import config, context, objects
from nova.virt import node


def main():
    config.parse_args(["nova-compute", "--config-file", sys.argv[1]])
    objects.register_all()
    from nova.conf import CONF

    ctxt = context.get_admin_context()
    if objects.Service.get_by_host_and_binary(ctxt, CONF.host, "nova-compute"):
        return
    if node.read_local_node_uuid() is None:
        os.makedirs(CONF.state_path, exist_ok=True)
        node.write_local_node_uuid(str(uuid.uuid4()))
    objects.Service(ctxt, host=CONF.host, binary="nova-compute", topic="compute",
                    report_count=0).create()
    print(f"registered nova-compute on {CONF.host}")


if __name__ == "__main__":
    main()
