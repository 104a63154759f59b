"""Nova's GlanceFixture plus the images the tests boot, with Glance's data
behaviour the driver relies on: uploaded data is kept (the stock fixture drops
it) and a download without a target returns the data as chunks, as
nova.image.glance does."""

import uuid

from nova.tests.fixtures import glance as glance_fixtures

# Per test process, so that the engine tags never collide with other runs.
IMAGE_ID = str(uuid.uuid4())
REBUILD_IMAGE_ID = str(uuid.uuid4())
# The test image with a command that exits at once (a boot that must fail).
DYING_IMAGE_ID = str(uuid.uuid4())
DYING_COMMAND = 'sh -c "echo dying-now; exit 3"'


def _image(image_id, name, **properties):
    return {
        "id": image_id,
        "name": name,
        "status": "active",
        "visibility": "public",
        "container_format": "docker",
        "disk_format": "raw",
        "size": 0,
        "min_ram": 0,
        "min_disk": 0,
        "protected": False,
        "properties": properties,
    }


class GlanceFixture(glance_fixtures.GlanceFixture):
    def setUp(self):
        # Every image made by the test, deleted or not, for the clean-up.
        self.created_ids = set()
        super().setUp()
        self.create(None, _image(IMAGE_ID, "novadock-busybox"))
        self.create(None, _image(REBUILD_IMAGE_ID, "novadock-busybox-rebuild"))
        self.create(None, _image(DYING_IMAGE_ID, "novadock-busybox-dying",
                                 os_command_line=DYING_COMMAND))

    def create(self, context, metadata, data=None):
        image = super().create(context, metadata, data=data)
        self.created_ids.add(image["id"])
        return image

    def update(self, context, image_id, metadata, data=None, purge_props=False):
        image = super().update(context, image_id, metadata, purge_props=purge_props)
        if data is not None:
            chunks = [data.read()] if hasattr(data, "read") else list(data)
            self._imagedata[image_id] = b"".join(chunks)
            image["size"] = len(self._imagedata[image_id])
            image["status"] = "active"
        return image

    def download(self, context, image_id, data=None, dst_path=None,
                 trusted_certs=None):
        if data is None and dst_path is None:
            self.show(context, image_id)
            return iter([self._imagedata.get(image_id, b"")])
        return super().download(context, image_id, data=data, dst_path=dst_path,
                                trusted_certs=trusted_certs)

    def image_data(self, image_id):
        return self._imagedata.get(image_id)
