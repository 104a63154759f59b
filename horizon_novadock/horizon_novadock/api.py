"""Each compute host's engine images, read through its novadock service's
Glance v2 facade (``[novadock] glance_facade_listen``) with the same client
Horizon uses for Glance.

The facades are the setting ``NOVADOCK_GLANCE_FACADES``, a dict of compute
host name to facade URL: the facade listens on the host's loopback or
management address, which is not in Keystone's catalog.
"""

from django.conf import settings
from glanceclient import client as glance_client
from openstack_dashboard.api import glance

# A tag of an image loaded through Glance's novadock store: the Glance id.
GLANCE_REPOSITORY = "novadock-glance:"
TIMEOUT = 10


def facades():
    return dict(getattr(settings, "NOVADOCK_GLANCE_FACADES", {}) or {})


class EngineImage:
    """One row: an engine image of one host."""

    def __init__(self, host, image):
        self.host = host
        self.image_id = image["id"]
        # Unique across hosts: the same image may be on several.
        self.id = f"{host}/{self.image_id}"
        tags = (image.get("docker_tags") or "").split()
        self.name = image.get("name") or image.get("docker_image_id", "")[:19]
        self.docker_tags = ", ".join(tags)
        self.docker_image_id = image.get("docker_image_id")
        self.glance_ids = [t[len(GLANCE_REPOSITORY):] for t in tags
                           if t.startswith(GLANCE_REPOSITORY)]
        self.size = image.get("size")
        self.created_at = image.get("created_at")
        # Glance id -> name, where Glance tells (engine_images fills it).
        self.glance_names = {}


def engine_images(request):
    """(images, failures): every configured host's images, and (host,
    reason) for each host whose facade did not answer."""
    images, failures = [], []
    for host, url in sorted(facades().items()):
        client = glance_client.Client("2", endpoint=url, timeout=TIMEOUT,
                                      token=request.user.token.id)
        try:
            images.extend(EngineImage(host, dict(i)) for i in client.images.list())
        except Exception as e:  # noqa: BLE001 - one host down hides no other
            failures.append((host, str(e) or type(e).__name__))
    if any(i.glance_ids for i in images):
        names = glance_names(request)
        for i in images:
            i.glance_names = {g: names[g] for g in i.glance_ids if g in names}
    return images, failures


def glance_names(request):
    """Names of the Glance images this user sees, by id; empty when Glance
    does not answer (the ids still show)."""
    try:
        found, _more, _prev = glance.image_list_detailed(request)
    except Exception:  # noqa: BLE001 - names are a nicety
        return {}
    return {i.id: i.name for i in found if i.name}
