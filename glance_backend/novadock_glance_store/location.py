"""Locations of the novadock store: ``novadock://<glance image id>``.

The service keys everything by the Glance image id (the engine tag
``novadock-glance:<id>``), so the id is the whole location.
"""

import logging
import urllib.parse
import uuid

from glance_store import exceptions
import glance_store.location

LOG = logging.getLogger(__name__)

SCHEME = "novadock"
PREFIX = SCHEME + "://"


def uri_for(image_id):
    return PREFIX + str(image_id)


class StoreLocation(glance_store.location.StoreLocation):
    """``novadock://<image id>``; ``image_id`` is the Glance image id."""

    def process_specs(self):
        self.scheme = self.specs.get("scheme", SCHEME)
        self.image_id = self.specs.get("image_id")

    def get_uri(self):
        return uri_for(self.image_id)

    def parse_uri(self, uri):
        self.validate_schemas(uri, valid_schemas=(PREFIX,))
        pieces = urllib.parse.urlparse(uri)
        image_id = (pieces.netloc + pieces.path).strip("/")
        try:
            uuid.UUID(image_id)
        except ValueError:
            reason = "novadock location %r does not name an image id" % uri
            LOG.info(reason)
            raise exceptions.BadStoreUri(message=reason) from None
        self.scheme = SCHEME
        self.image_id = image_id
