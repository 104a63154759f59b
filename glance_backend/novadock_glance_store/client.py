"""The service's image API, on novadock_client's transport.

Uploads go out with chunked transfer encoding as the data arrives, downloads
come back as an iterator over the response: nothing holds a whole image in
memory. Every failure becomes a glance_store exception (errors.py).
"""

from urllib.parse import quote
from urllib.parse import urlencode

import novadock_client

from novadock_glance_store import errors


def image_path(image_id, suffix=""):
    return "/v1/images/%s%s" % (quote(str(image_id), safe=""), suffix)


class NovadockImages(novadock_client.Client):
    """The service's /v1/images API."""

    def __init__(self, socket_path, timeout):
        super().__init__(socket_path, timeout, translate=errors.to_store_error)

    def stored_image(self, image_id):
        """``GET /v1/images/<id>``: the StoredImage (size of its tarball...)."""
        return self.call("GET", image_path(image_id))

    def delete_image(self, image_id):
        """``DELETE /v1/images/<id>``; a missing image is not an error."""
        self.call("DELETE", image_path(image_id))

    def store_image(self, image_id, chunks, hashing_algo):
        """``PUT /v1/images/<id>/data``, the body sent chunk by chunk from the
        iterable ``chunks`` as it yields (an exception raised by ``chunks``
        goes up unchanged and the service stores nothing). Returns the
        StoredImage the service answered."""
        path = image_path(image_id, "/data?" + urlencode(
            {"hashing_algo": hashing_algo}))
        return self.upload("PUT", path, chunks)

    def read_image(self, image_id):
        """``GET /v1/images/<id>/data``: (iterator over the tarball's chunks,
        Content-Length or None). The connection stays open until the iterator
        is exhausted or closed."""
        return self.download(image_path(image_id, "/data"))
