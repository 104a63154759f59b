from django.utils.translation import gettext_lazy as _
from horizon import messages, tables

from horizon_novadock import api
from horizon_novadock.engine_images import tables as engine_tables


class IndexView(tables.DataTableView):
    table_class = engine_tables.EngineImagesTable
    template_name = "horizon/common/_data_table_view.html"
    page_title = _("Engine Images")

    def get_data(self):
        if not api.facades():
            messages.info(self.request, _(
                "No novadock Glance facade is configured "
                "(NOVADOCK_GLANCE_FACADES in local_settings)."))
            return []
        images, failures = api.engine_images(self.request)
        for host, reason in failures:
            messages.error(self.request, _(
                "Unable to list the engine images of %(host)s: %(reason)s")
                % {"host": host, "reason": reason})
        return images
