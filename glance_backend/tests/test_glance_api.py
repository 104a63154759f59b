"""A real glance-api whose default store is the novadock driver, used as a
user would: the openstack CLI and python-glanceclient, checked against what
the Docker engine shows."""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request
import uuid

from glanceclient import exc as glance_exc
from glanceclient.v2.client import Client as GlanceClient
import novadock_client

from tests import stack as st


class GlanceApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st.get_stack()
        cls.glance = cls.stack.glance_url
        cls.tarball = st.docker_save(st.TEST_IMAGE)
        cls.test_image_id = st.docker_image_id(st.TEST_IMAGE)

    def setUp(self):
        self.stack.alive()
        self.tmp = tempfile.mkdtemp(prefix="novadock-glance-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def name(self):
        return "novadock-test-%s" % uuid.uuid4().hex[:8]

    def cleanup_image(self, image_id):
        """Delete the Glance image (and so its engine tag) at the end, and
        make sure no engine tag of it is left either way."""
        def clean():
            st.openstack(self.glance, "image", "delete", image_id, check=False)
            st.docker("rmi", "--no-prune", st.GLANCE_TAG.format(image_id),
                      st.STORE_TAG.format(image_id), check=False)
        self.addCleanup(clean)

    def create_from_stdin(self, name=None):
        """``docker save busybox | openstack image create ...`` with the data
        on standard input (the CLI reads a non-tty stdin when --file is not
        given; ``--file -`` is refused)."""
        p = st.openstack(self.glance, "image", "create", "--container-format",
                         "docker", "--disk-format", "raw", name or self.name(),
                         "-f", "json", input=self.tarball, check=False)
        self.assertEqual(p.returncode, 0, "image create failed: %s%s\n%s"
                         % (p.stdout, p.stderr, self.stack.glance_log_tail()))
        image = st.json.loads(p.stdout)
        self.cleanup_image(image["id"])
        return image

    def glanceclient(self):
        # No keystone: the endpoint is given, the token is not checked.
        return GlanceClient(endpoint=self.glance, token="no-auth")

    # -- create, show, save, delete with the openstack CLI -----------------------

    def test_create_from_stdin_is_active_and_loaded_into_the_engine(self):
        name = self.name()
        image = self.create_from_stdin(name)
        self.assertEqual(image["status"], "active")
        self.assertEqual(image["name"], name)
        self.assertEqual(image["container_format"], "docker")
        self.assertEqual(image["disk_format"], "raw")
        self.assertEqual(image["properties"]["stores"], "novadock")
        self.assertEqual(image["properties"]["os_hash_algo"], "sha512")

        # docker images shows the engine's copy, the busybox image itself.
        listed = st.docker("images", "--no-trunc", "--format",
                           "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.split("\n")
        ref = st.GLANCE_TAG.format(image["id"])
        self.assertIn("%s %s" % (ref, self.test_image_id), listed)

        # Glance records the tarball the service gives back, not the upload.
        status, data = st.service_request(self.stack, "GET",
                                          "/v1/images/%s/data" % image["id"])
        self.assertEqual(status, 200)
        self.assertEqual(image["size"], len(data))
        self.assertEqual(image["checksum"], hashlib.md5(data).hexdigest())
        self.assertEqual(image["properties"]["os_hash_value"],
                         hashlib.sha512(data).hexdigest())

        shown = st.openstack_json(self.glance, "image", "show", image["id"])
        self.assertEqual(shown["status"], "active")
        self.assertEqual(shown["checksum"], image["checksum"])
        self.assertEqual(shown["size"], image["size"])

    def test_save_gives_back_a_tarball_docker_load_accepts(self):
        image = self.create_from_stdin()
        ref = st.GLANCE_TAG.format(image["id"])
        engine_id = st.docker_image_id(ref)
        path = os.path.join(self.tmp, "saved.tar")
        st.openstack(self.glance, "image", "save", "--file", path, image["id"])
        with open(path, "rb") as f:
            saved = f.read()
        self.assertEqual(len(saved), image["size"])
        self.assertEqual(hashlib.md5(saved).hexdigest(), image["checksum"])
        self.assertEqual(hashlib.sha512(saved).hexdigest(),
                         image["properties"]["os_hash_value"])
        # The same bytes every time.
        path2 = os.path.join(self.tmp, "saved2.tar")
        st.openstack(self.glance, "image", "save", "--file", path2, image["id"])
        with open(path2, "rb") as f:
            self.assertEqual(f.read(), saved)

        # Without the engine's copy, docker load brings the image back.
        st.openstack(self.glance, "image", "delete", image["id"])
        self.assertIsNone(st.docker_image_id(ref))
        loaded = st.docker_load(path)
        self.addCleanup(st.docker, "rmi", "--no-prune", ref, check=False)
        self.assertEqual(loaded, engine_id)
        out = st.docker("run", "--rm", loaded, "/bin/echo", "loaded-from-glance")
        self.assertEqual(out.stdout.strip(), "loaded-from-glance")

    def test_delete_removes_the_engine_image(self):
        image = self.create_from_stdin()
        ref = st.GLANCE_TAG.format(image["id"])
        self.assertIsNotNone(st.docker_image_id(ref))
        st.openstack(self.glance, "image", "delete", image["id"])
        self.assertIsNone(st.docker_image_id(ref))
        status, body = st.service_request(self.stack, "GET",
                                          "/v1/images/%s" % image["id"])
        self.assertEqual(status, 404, body)
        self.assertIn(b"ImageNotFound", body)
        p = st.openstack(self.glance, "image", "show", image["id"], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("No Image found", p.stdout + p.stderr)
        # The busybox image the tag pointed at is still there.
        self.assertEqual(st.docker_image_id(st.TEST_IMAGE), self.test_image_id)

    # -- python-glanceclient -------------------------------------------------------

    def test_glanceclient_streams_upload_and_verified_download(self):
        gc = self.glanceclient()
        image = gc.images.create(name=self.name(), container_format="docker",
                                 disk_format="raw")
        self.cleanup_image(image.id)
        self.assertEqual(image.status, "queued")
        # A pipe: glanceclient cannot know the size and sends it chunked.
        save = subprocess.Popen(["docker", "save", st.TEST_IMAGE],
                                stdout=subprocess.PIPE)
        try:
            gc.images.upload(image.id, save.stdout)
        finally:
            save.stdout.close()
            self.assertEqual(save.wait(timeout=60), 0)
        image = gc.images.get(image.id)
        self.assertEqual(image.status, "active")
        self.assertEqual(image.stores, "novadock")
        self.assertIsNotNone(st.docker_image_id(st.GLANCE_TAG.format(image.id)))
        # glanceclient checks the download against os_hash_value (and md5):
        # a mismatch raises IOError while iterating.
        body = b"".join(gc.images.data(image.id))
        self.assertEqual(len(body), image.size)
        self.assertEqual(hashlib.sha512(body).hexdigest(), image.os_hash_value)

    def test_ranged_download(self):
        image = self.create_from_stdin()
        status, full = st.service_request(self.stack, "GET",
                                          "/v1/images/%s/data" % image["id"])
        self.assertEqual(status, 200)
        for start, end in ((0, 99), (1000, 70000), (len(full) - 10,
                                                    len(full) - 1)):
            req = urllib.request.Request(
                "%s/v2/images/%s/file" % (self.glance, image["id"]),
                headers={"Range": "bytes=%d-%d" % (start, end)})
            with urllib.request.urlopen(req, timeout=60) as resp:
                self.assertEqual(resp.status, 206)
                self.assertEqual(resp.headers["Content-Range"],
                                 "bytes %d-%d/%d" % (start, end, len(full)))
                self.assertEqual(resp.read(), full[start:end + 1])

    def test_not_a_tarball_is_refused_and_nothing_is_kept(self):
        gc = self.glanceclient()
        image = gc.images.create(name=self.name(), container_format="docker",
                                 disk_format="raw")
        self.cleanup_image(image.id)
        with open(os.path.join(self.tmp, "junk"), "wb+") as junk:
            junk.write(b"this is not a docker save tarball\n" * 1000)
            junk.seek(0)
            with self.assertRaises(glance_exc.HTTPBadRequest) as cm:
                gc.images.upload(image.id, junk)
        self.assertIn("novadock", str(cm.exception))
        image = gc.images.get(image.id)
        self.assertEqual(image.status, "queued")
        self.assertIsNone(st.docker_image_id(st.GLANCE_TAG.format(image.id)))

    def test_cli_shows_why_the_service_refused_the_data(self):
        # Issue 19: the openstack CLI printed only "400 Bad Request".
        junk = os.path.join(self.tmp, "garbage")
        with open(junk, "wb") as f:
            f.write(b"this is not a docker save tarball\n" * 1000)
        # What the service itself says about these bytes.
        with open(junk, "rb") as f, self.assertRaises(
                novadock_client.ServiceError) as cm:
            novadock_client.Client(self.stack.socket_path, 60).upload(
                "PUT", "/v1/images/%s/data?hashing_algo=sha512" % uuid.uuid4(),
                iter(lambda: f.read(65536), b""))
        reason = cm.exception.message
        self.assertTrue(reason)

        p = st.openstack(self.glance, "image", "create", "--file", junk,
                         "--container-format", "docker", "--disk-format", "raw",
                         self.name(), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("400", p.stderr)
        self.assertIn(reason, p.stderr)
        self.assertIn(cm.exception.code, p.stderr)
        image_id = re.search(r"/v2/images/([0-9a-f-]{36})/file", p.stderr)
        self.assertIsNotNone(image_id, p.stderr)
        self.cleanup_image(image_id.group(1))
        self.assertIsNone(st.docker_image_id(st.GLANCE_TAG.format(image_id.group(1))))


if __name__ == "__main__":
    unittest.main()
