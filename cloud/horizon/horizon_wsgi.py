"""Horizon for gunicorn, with its static files.

gunicorn serves no files and nginx would be one more server to install,
run and stop: Django's own static view serves STATIC_ROOT (what
collectstatic and compress wrote at install), which is plenty for a
dashboard on loopback. Everything else goes to openstack_dashboard.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openstack_dashboard.settings")

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.wsgi import get_wsgi_application
from django.views import static


class CollectedStatic(StaticFilesHandler):
    """/static/... from STATIC_ROOT, not from the finders (app
    directories), so the offline-compressed bundles are found too."""

    def serve(self, request):
        response = static.serve(request, self.file_path(request.path),
                                document_root=settings.STATIC_ROOT)
        # Compressed bundles have content hashes in their names.
        response["Cache-Control"] = "public, max-age=3600"
        return response


application = CollectedStatic(get_wsgi_application())
