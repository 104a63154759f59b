"""The driver in-process, through glance_store's own multi-store API (what
glance-api calls), against the real service and dockerd: the cases a user of
glance-api cannot easily provoke."""

import hashlib
import io
import json
import os
import unittest
import uuid

import glance_store
from glance_store import exceptions
from glance_store import location
from glance_store import multi_backend
from oslo_config import cfg

from novadock_glance_store import errors
from tests import stack as st

BACKEND = "nd"
CONF = cfg.CONF
_CONFIGURED = []


def configure(socket_path):
    """glance_store's global configuration, as glance-api sets it up: one
    novadock backend named "nd" on ``socket_path``."""
    if not _CONFIGURED:
        CONF.register_opt(cfg.DictOpt("enabled_backends"))
        CONF([], project="novadock-glance-test", default_config_files=[])
        CONF.set_override("enabled_backends", {BACKEND: "novadock"})
        multi_backend.register_store_opts(CONF)
        CONF.set_override("default_backend", BACKEND, group="glance_store")
        multi_backend.create_multi_stores(CONF)
        _CONFIGURED.append(True)
    CONF.set_override("novadock_socket_path", socket_path, group=BACKEND)


class ChunkedReader:
    """A file-like upload that hands out small reads, like Glance's wrapped
    request body, and can fail after ``fail_after`` bytes."""

    def __init__(self, data, fail_after=None):
        self.data = data
        self.pos = 0
        self.fail_after = fail_after
        self.reads = 0

    def read(self, size=-1):
        size = min(size if size > 0 else len(self.data), 64 * 1024)
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise OSError("client went away")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += len(chunk)
        self.reads += 1
        return chunk


class Verifier:
    def __init__(self):
        self.md5 = hashlib.md5()
        self.length = 0

    def update(self, data):
        self.md5.update(data)
        self.length += len(data)


class StoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st.get_stack()
        configure(cls.stack.socket_path)
        cls.tarball = st.docker_save(st.TEST_IMAGE)
        cls.store = multi_backend.get_store_from_store_identifier(BACKEND)

    def setUp(self):
        self.stack.alive()
        CONF.set_override("novadock_socket_path", self.stack.socket_path,
                          group=BACKEND)

    def new_id(self):
        image_id = str(uuid.uuid4())
        self.addCleanup(st.docker, "rmi", "--no-prune",
                        st.GLANCE_TAG.format(image_id),
                        st.STORE_TAG.format(image_id), check=False)
        return image_id

    def add(self, image_id, reader, size=0, algo="sha512", verifier=None):
        return multi_backend.add_with_multihash(
            CONF, image_id, reader, size, BACKEND, algo, verifier=verifier)

    def loc(self, image_id):
        return location.get_location_from_uri_and_backend(
            "novadock://%s" % image_id, BACKEND, conf=CONF)

    def test_store_is_the_novadock_driver(self):
        self.assertEqual(type(self.store).__module__, "novadock_glance_store.store")
        self.assertIn("novadock", glance_store.get_known_schemes_for_multi_store())

    def test_add_get_delete(self):
        image_id = self.new_id()
        reader = ChunkedReader(self.tarball)
        verifier = Verifier()
        uri, size, checksum, multihash, meta = self.add(
            image_id, reader, len(self.tarball), verifier=verifier)
        self.assertEqual(uri, "novadock://%s" % image_id)
        self.assertEqual(meta, {"store": BACKEND})
        self.assertGreater(reader.reads, 2, "the upload was not read in chunks")
        # The verifier saw every uploaded byte.
        self.assertEqual(verifier.length, len(self.tarball))
        self.assertEqual(verifier.md5.hexdigest(),
                         hashlib.md5(self.tarball).hexdigest())
        self.assertIsNotNone(st.docker_image_id(st.GLANCE_TAG.format(image_id)))

        data, got_size = multi_backend.get(uri, BACKEND)
        body = b"".join(data)
        self.assertEqual(got_size, size)
        self.assertEqual(len(body), size)
        self.assertEqual(hashlib.md5(body).hexdigest(), checksum)
        self.assertEqual(hashlib.sha512(body).hexdigest(), multihash)
        self.assertEqual(multi_backend.get_size_from_uri_and_backend(uri, BACKEND),
                         size)

        # Ranges (Glance's Range downloads): the exact bytes.
        for offset, length in ((0, 10), (5, None), (size - 7, 7),
                               (70000, 123456)):
            data, got = self.store.get(self.loc(image_id), offset=offset,
                                       chunk_size=length)
            want = body[offset:offset + length] if length else body[offset:]
            self.assertEqual(got, len(want))
            self.assertEqual(b"".join(data), want)

        multi_backend.delete(uri, BACKEND)
        self.assertIsNone(st.docker_image_id(st.GLANCE_TAG.format(image_id)))
        with self.assertRaises(exceptions.NotFound):
            multi_backend.get(uri, BACKEND)
        with self.assertRaises(exceptions.NotFound):
            self.store.get_size(self.loc(image_id))
        # Deleting what is gone is not an error.
        multi_backend.delete(uri, BACKEND)

    def test_sha256_multihash(self):
        image_id = self.new_id()
        uri, size, checksum, multihash, _ = self.add(
            image_id, io.BytesIO(self.tarball), algo="sha256")
        body = b"".join(multi_backend.get(uri, BACKEND)[0])
        self.assertEqual(hashlib.sha256(body).hexdigest(), multihash)

    def test_unsupported_hashing_algo_is_refused_before_upload(self):
        image_id = self.new_id()
        reader = ChunkedReader(self.tarball)
        with self.assertRaises(exceptions.UnknownHashingAlgo):
            self.add(image_id, reader, algo="md5")
        self.assertEqual(reader.reads, 0)

    def test_upload_that_fails_midway_leaves_nothing(self):
        image_id = self.new_id()
        reader = ChunkedReader(self.tarball, fail_after=len(self.tarball) // 2)
        # The reader's own error comes up unchanged (glance-api knows what
        # to answer for its own failures: size caps, clients going away).
        with self.assertRaisesRegex(OSError, "client went away"):
            self.add(image_id, reader)
        self.assertLess(reader.pos, len(self.tarball))
        self.assertIsNone(st.docker_image_id(st.GLANCE_TAG.format(image_id)))
        with self.assertRaises(exceptions.NotFound):
            self.store.get_size(self.loc(image_id))

    def test_size_mismatch_is_invalid_and_leaves_nothing(self):
        image_id = self.new_id()
        with self.assertRaises(exceptions.Invalid):
            self.add(image_id, io.BytesIO(self.tarball), len(self.tarball) + 1)
        self.assertIsNone(st.docker_image_id(st.GLANCE_TAG.format(image_id)))

    def test_not_a_tarball_is_refused_with_the_reason(self):
        image_id = self.new_id()
        with self.assertRaises(errors.ImageDataRefused) as cm:
            self.add(image_id, io.BytesIO(b"no tar here" * 10000))
        # What glance-api serves: a 400 whose JSON message carries the
        # service's reason (test_glance_api checks the CLI prints it).
        self.assertEqual(400, cm.exception.status_code)
        self.assertEqual("application/json", cm.exception.content_type)
        message = json.loads(cm.exception.body)["error"]["message"]
        self.assertIn("ImageUnacceptable", message)
        self.assertIn(message, str(cm.exception))
        self.assertIsNone(st.docker_image_id(st.GLANCE_TAG.format(image_id)))

    def test_service_not_running(self):
        missing = os.path.join(self.stack.tmpdir, "nobody-here.sock")
        CONF.set_override("novadock_socket_path", missing, group=BACKEND)
        with self.assertRaises(exceptions.RemoteServiceUnavailable) as cm:
            self.store.get_size(self.loc(str(uuid.uuid4())))
        self.assertIn(missing, str(cm.exception))

    def test_bad_location(self):
        with self.assertRaises(exceptions.BadStoreUri):
            self.loc("not-an-id")


if __name__ == "__main__":
    unittest.main()
