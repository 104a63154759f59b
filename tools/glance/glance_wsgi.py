"""glance-api's WSGI application for gunicorn (tools/glance/up.sh).

oslo.config and friends must not see gunicorn's command line: sys.argv is
emptied before glance's WSGI module is imported. The configuration comes
from $OS_GLANCE_CONFIG_DIR/glance-api.conf.
"""

import sys

sys.argv = sys.argv[:1]

from glance.wsgi.api import application  # noqa: E402

__all__ = ["application"]
