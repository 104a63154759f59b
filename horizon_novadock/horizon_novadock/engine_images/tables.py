from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from horizon import tables
from horizon.utils import filters


def glance_links(image):
    """Links to the Glance images this engine image holds (loaded through
    Glance's novadock store); an image only in the engine has none."""
    if not image.glance_ids:
        return _("(engine only)")
    return format_html_join(
        ", ", '<a href="{}">{}</a>',
        ((reverse("horizon:admin:images:detail", args=[i]),
          image.glance_names.get(i, i))
         for i in image.glance_ids))


class EngineImagesTable(tables.DataTable):
    host = tables.Column("host", verbose_name=_("Host"))
    name = tables.Column("name", verbose_name=_("Name"))
    docker_tags = tables.Column("docker_tags", verbose_name=_("Docker Tags"))
    glance = tables.Column(glance_links, verbose_name=_("Glance Image"))
    docker_image_id = tables.Column(
        lambda i: format_html("<code>{}</code>", (i.docker_image_id or "")[:19]),
        verbose_name=_("Docker Image ID"))
    size = tables.Column("size", verbose_name=_("Size"),
                         filters=(filesizeformat,))
    created = tables.Column("created_at", verbose_name=_("Created"),
                            filters=(filters.parse_isotime,))

    class Meta:
        name = "engine_images"
        verbose_name = _("Engine Images")
