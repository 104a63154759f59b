"""novadock driver tests.

Like nova's own test packages, patch (or, with
OS_NOVA_DISABLE_EVENTLET_PATCHING=true, forbid) eventlet before anything else
imports it. The tests default to native threading, the way nova-compute runs
by default in 2026.2.
"""

import os

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "true")

from nova import monkey_patch  # noqa: E402

monkey_patch.patch()
