"""One WSGI entry point for gunicorn: the application named by
$NOVADOCK_CLOUD_WSGI ("module:attribute").

oslo.config must not see gunicorn's command line, so sys.argv is emptied
before the service's module is imported; each service finds its
configuration through its own OS_*_CONFIG_DIR variable.
"""

import importlib
import os
import sys

sys.argv = sys.argv[:1]

_module, _, _attr = os.environ["NOVADOCK_CLOUD_WSGI"].partition(":")
application = getattr(importlib.import_module(_module), _attr or "application")
