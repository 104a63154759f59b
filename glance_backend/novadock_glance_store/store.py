"""The glance_store driver: Glance's store interface on the service's image API.

``add`` streams the upload into ``PUT /v1/images/<id>/data`` and records what
the service answers: the size and hashes of the ``docker save`` tarball that
``get`` (``GET /v1/images/<id>/data``) gives back, byte for byte the same every
time. They differ from the uploaded bytes (the engine re-exports the image),
and they are what a download is checked against.
"""

import logging
import os

from glance_store import capabilities
from glance_store import exceptions
from glance_store.common import utils
import glance_store.driver
from glance_store.i18n import _

from novadock_glance_store import options
from novadock_glance_store.client import NovadockImages
from novadock_glance_store.location import PREFIX
from novadock_glance_store.location import SCHEME
from novadock_glance_store.location import StoreLocation
from novadock_glance_store.location import uri_for

LOG = logging.getLogger(__name__)

# What the service's PUT /v1/images/<id>/data accepts as hashing_algo.
HASHING_ALGOS = ("sha256", "sha384", "sha512")
_STORED_FIELDS = ("size", "checksum", "multihash", "hashing_algo")


class _Chunks(glance_store.Indexable):
    """The download as Glance wants it: iterable, indexable, with a size."""

    def another(self):
        try:
            return next(self.wrapped)
        except StopIteration:
            return b""


def _window(chunks, offset, length):
    """The bytes [offset, offset + length) of the stream ``chunks`` (to the end
    if length is None). The service has no ranges: the bytes before ``offset``
    are read and dropped, which is correct because the stream is the same
    every time."""
    try:
        for chunk in chunks:
            if offset:
                if len(chunk) <= offset:
                    offset -= len(chunk)
                    continue
                chunk, offset = chunk[offset:], 0
            if length is not None:
                if len(chunk) >= length:
                    if length:
                        yield chunk[:length]
                    return
                length -= len(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class Store(glance_store.driver.Store):
    """Glance images kept as images of the local Docker engine by novadock."""

    _CAPABILITIES = (capabilities.BitMasks.READ_RANDOM
                     | capabilities.BitMasks.WRITE_ACCESS
                     | capabilities.BitMasks.DRIVER_REUSABLE)
    OPTIONS = options.OPTS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.store_location_class = StoreLocation
        if self.backend_group:
            self.store_conf = glance_store.driver.BackendGroupConfiguration(
                self.OPTIONS, self.backend_group, conf=self.conf)
        else:
            self.store_conf = self.conf.glance_store
        self._url_prefix = PREFIX

    def get_schemes(self):
        return (SCHEME,)

    def configure_add(self):
        path = self.store_conf.novadock_socket_path
        if not path:
            raise exceptions.BadStoreConfiguration(
                store_name="novadock", reason=_("novadock_socket_path is empty"))
        if not os.path.exists(path):
            # Not fatal: the service may start after glance-api.
            LOG.warning("novadock store %s: socket %s does not exist (yet)",
                        self.backend_group or "glance_store", path)

    def _images(self):
        return NovadockImages(self.store_conf.novadock_socket_path,
                              self.store_conf.novadock_timeout)

    @capabilities.check
    def get(self, location, offset=0, chunk_size=None, context=None):
        """(iterator over the image's tarball, its size), or the part of it
        from ``offset`` on, ``chunk_size`` bytes long if given."""
        image_id = location.store_location.image_id
        images = self._images()
        chunks, size = images.read_image(image_id)
        if size is None:
            try:
                size = int(images.stored_image(image_id)["size"])
            except BaseException:
                chunks.close()
                raise
        if offset or chunk_size is not None:
            remaining = max(size - offset, 0)
            if chunk_size is not None:
                remaining = min(remaining, chunk_size)
            chunks, size = _window(chunks, offset, chunk_size), remaining
        return _Chunks(chunks, size), size

    def get_size(self, location, context=None):
        """Bytes of the image's tarball, as ``get`` gives it."""
        stored = self._images().stored_image(location.store_location.image_id)
        return int(stored["size"])

    @glance_store.driver.back_compat_add
    @capabilities.check
    def add(self, image_id, image_file, image_size, hashing_algo, context=None,
            verifier=None):
        """Stream ``image_file`` (a docker save tarball) to the service, which
        loads it into the engine as ``novadock-glance:<image_id>``.

        :returns: (location, size, checksum, multihash, metadata) of the
                  tarball that ``get`` gives back
        """
        if hashing_algo not in HASHING_ALGOS:
            raise exceptions.UnknownHashingAlgo(algo=hashing_algo)
        received = 0

        def chunks():
            nonlocal received
            for buf in utils.chunkreadable(image_file, self.WRITE_CHUNKSIZE):
                received += len(buf)
                if image_size and received > image_size:
                    raise exceptions.Invalid(
                        message=_("Size exceeds: expected %(expected)d bytes, "
                                  "got %(actual)d bytes")
                        % {"expected": image_size, "actual": received})
                if verifier is not None:
                    verifier.update(buf)
                yield buf

        images = self._images()
        stored = images.store_image(image_id, chunks(), hashing_algo)
        if image_size and received != image_size:
            images.delete_image(image_id)
            raise exceptions.Invalid(
                message=_("Size mismatch: expected %(expected)d bytes, got "
                          "%(actual)d bytes")
                % {"expected": image_size, "actual": received})
        missing = [f for f in _STORED_FIELDS if f not in (stored or {})]
        if missing or stored["hashing_algo"] != hashing_algo:
            raise exceptions.BackendException(
                "novadock service stored image %s but answered %r (missing %s, "
                "hashing_algo wanted %s)" % (image_id, stored, missing,
                                             hashing_algo))
        LOG.debug("novadock stored image %s (%d bytes uploaded): docker id %s, "
                  "tarball of %d bytes, md5 %s", image_id, received,
                  stored.get("docker_id"), stored["size"], stored["checksum"])
        metadata = {"store": self.backend_group} if self.backend_group else {}
        return (uri_for(image_id), int(stored["size"]), stored["checksum"],
                stored["multihash"], metadata)

    @capabilities.check
    def delete(self, location, context=None):
        """Remove the engine's image; one already gone is not an error."""
        self._images().delete_image(location.store_location.image_id)
