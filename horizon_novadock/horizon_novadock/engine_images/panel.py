import horizon
from django.utils.translation import gettext_lazy as _


class EngineImages(horizon.Panel):
    name = _("Engine Images")
    slug = "engine_images"
    permissions = ("openstack.roles.admin",)
