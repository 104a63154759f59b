"""The service's read-only Glance v2 facade, used with the real clients: the
openstack CLI and python-glanceclient (what Horizon uses)."""

import datetime
import io
import json
import os
import shutil
import tarfile
import tempfile
import unittest
import urllib.request
import uuid

from glanceclient.v2.client import Client as GlanceClient

from tests import stack as st

IMAGES = 3


def facade_id(docker_id):
    """The facade's stable id of an engine image: uuid v5 (OID namespace) of
    its Docker id."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, docker_id))


def make_image(ref):
    """A tiny image of its own (one file with unique content) tagged ``ref``,
    built with docker import; its Docker id."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = ("%s %s\n" % (ref, uuid.uuid4())).encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    st.docker("import", "-", ref, input=buf.getvalue())
    return st.docker_image_id(ref)


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class FacadeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st.get_stack()
        cls.facade = cls.stack.facade_url
        prefix = "novadock-facade-test/%s" % uuid.uuid4().hex[:8]
        cls.refs = ["%s:v%d" % (prefix, n) for n in range(IMAGES)]
        cls.docker_ids = {}
        try:
            for ref in cls.refs:
                cls.docker_ids[ref] = make_image(ref)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for ref, docker_id in cls.docker_ids.items():
            st.docker("rmi", "-f", ref, check=False)
            st.docker("rmi", "-f", docker_id, check=False)

    def setUp(self):
        self.stack.alive()

    def get_json(self, path):
        with urllib.request.urlopen(self.facade + path, timeout=60) as resp:
            self.assertEqual(resp.status, 200)
            return json.loads(resp.read())

    def test_list_and_show_with_the_openstack_cli(self):
        listed = st.openstack_json(self.facade, "image", "list", "--long")
        by_id = {i["ID"]: i for i in listed}
        self.assertEqual(len(by_id), len(listed), "an image is listed twice")
        for ref, docker_id in self.docker_ids.items():
            row = by_id.get(facade_id(docker_id))
            self.assertIsNotNone(row, "%s (%s) missing from %s"
                                 % (ref, docker_id, listed))
            self.assertEqual(row["Name"], ref)
            self.assertEqual(row["Status"], "active")
            self.assertEqual(row["Disk Format"], "raw")
            self.assertEqual(row["Container Format"], "docker")
            self.assertGreater(row["Size"], 0)
            self.assertEqual(row["Visibility"], "public")
        # The busybox test image is an engine image too.
        busybox = st.docker_image_id(st.TEST_IMAGE)
        self.assertIn(facade_id(busybox), by_id)

        ref = self.refs[0]
        docker_id = self.docker_ids[ref]
        shown = st.openstack_json(self.facade, "image", "show",
                                  facade_id(docker_id))
        self.assertEqual(shown["id"], facade_id(docker_id))
        self.assertEqual(shown["name"], ref)
        self.assertEqual(shown["status"], "active")
        self.assertEqual(shown["container_format"], "docker")
        self.assertEqual(shown["disk_format"], "raw")
        self.assertEqual(shown["visibility"], "public")
        self.assertIsInstance(shown["size"], int)
        self.assertGreater(shown["size"], 0)
        # The CLI leaves null fields out; Nova reads the API's document.
        raw = self.get_json("/v2/images/%s" % facade_id(docker_id))
        for key in ("id", "name", "status", "container_format", "disk_format",
                    "size", "visibility", "checksum", "created_at",
                    "updated_at", "min_disk", "min_ram", "protected"):
            self.assertIn(key, raw)
        self.assertEqual(raw["size"], shown["size"])
        created = st.docker("image", "inspect", "--format", "{{.Created}}",
                            ref).stdout.strip()
        engine_created = datetime.datetime.fromisoformat(
            created[:19]).replace(tzinfo=datetime.timezone.utc)
        self.assertEqual(parse_time(shown["created_at"]), engine_created)
        self.assertGreaterEqual(parse_time(shown["updated_at"]),
                                parse_time(shown["created_at"]))

    def test_unknown_image_is_not_found(self):
        missing = str(uuid.uuid4())
        p = st.openstack(self.facade, "image", "show", missing, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("No Image found", p.stdout + p.stderr)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.get_json("/v2/images/%s" % missing)
        self.assertEqual(cm.exception.code, 404)

    def test_paging_with_limit_and_marker(self):
        mine = {facade_id(d) for d in self.docker_ids.values()}
        page = self.get_json("/v2/images?limit=1")
        self.assertEqual(len(page["images"]), 1)
        self.assertIn("next", page)
        seen = [i["id"] for i in page["images"]]
        pages = 1
        while "next" in page and pages < 1000:
            page = self.get_json(page["next"])
            self.assertLessEqual(len(page["images"]), 1)
            seen += [i["id"] for i in page["images"]]
            pages += 1
        self.assertEqual(len(seen), len(set(seen)), "paging repeated an image")
        self.assertLessEqual(mine, set(seen))

        # The CLI shows one page of --limit images (it turns the SDK's
        # paging off) sorted by name, --marker starts after the given image.
        order = [i["id"] for i in self.get_json("/v2/images?limit=1000")["images"]]
        self.assertEqual(order, seen)
        first = st.openstack_json(self.facade, "image", "list", "--limit", "2")
        self.assertEqual({i["ID"] for i in first}, set(order[:2]))
        second = st.openstack_json(self.facade, "image", "list", "--limit", "2",
                                   "--marker", order[1])
        self.assertEqual({i["ID"] for i in second}, set(order[2:4]))
        everything = st.openstack_json(self.facade, "image", "list")
        self.assertEqual({i["ID"] for i in everything}, set(order))

    def test_glanceclient_list_get_and_data(self):
        gc = GlanceClient(endpoint=self.facade, token="no-auth")
        # glanceclient validates every image against /v2/schemas/image.
        listed = list(gc.images.list(page_size=1))
        ids = [i.id for i in listed]
        self.assertEqual(len(ids), len(set(ids)))
        for docker_id in self.docker_ids.values():
            self.assertIn(facade_id(docker_id), ids)
        image = gc.images.get(facade_id(self.docker_ids[self.refs[1]]))
        self.assertEqual(image.name, self.refs[1])
        self.assertEqual(image.status, "active")
        self.assertEqual(image.container_format, "docker")
        # Horizon's query: newest first, public, paged.
        horizon = list(gc.images.list(
            page_size=2, sort_key="created_at", sort_dir="desc",
            filters={"visibility": "public"}))
        self.assertLessEqual({facade_id(d) for d in self.docker_ids.values()},
                             {i.id for i in horizon})
        data = b"".join(gc.images.data(image.id))
        self.assertGreater(len(data), 0)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            self.assertIn("manifest.json", tar.getnames())

    def test_save_from_the_facade_loads_with_docker_load(self):
        ref = self.refs[2]
        docker_id = self.docker_ids[ref]
        tmp = tempfile.mkdtemp(prefix="novadock-facade-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "saved.tar")
        st.openstack(self.facade, "image", "save", "--file", path,
                     facade_id(docker_id))
        self.assertGreater(os.path.getsize(path), 0)
        # Gone from the engine, back from the saved file.
        st.docker("rmi", "-f", ref)
        self.assertIsNone(st.docker_image_id(docker_id))
        self.assertEqual(st.docker_load(path), docker_id)
        self.assertIsNotNone(st.docker_image_id(docker_id))


if __name__ == "__main__":
    unittest.main()
