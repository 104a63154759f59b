"""Nova's functional harness with two novadock compute hosts, each on its own
real dockerd and Open vSwitch (nova_shim/tools/run-functional.sh)."""

# Nova's functional package applies the concurrency mode (eventlet, or native
# threads with OS_NOVA_DISABLE_EVENTLET_PATCHING=1) on import; it must come
# before anything else of nova.
import nova.tests.functional  # noqa: F401
