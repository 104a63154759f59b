"""End-to-end: two projects on the one-machine cloud, one of them hostile.

Project A keeps a private image; project B tries what a tenant can: see or
boot A's image, take over its engine tags with a poisoned `docker save`
tarball, and read it through the service's Glance facade with and without
a token. The cloud's own secrets (RabbitMQ, the database, Keystone's keys,
passwords) stay out of reach of a user of the machine. Run like cloud/e2e_test.py (the cloud venv's python, after
`source <openrc>` as admin); prints one line per check and
"N passed, N failed"; exits 1 on a failure.
"""

import configparser
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import uuid

import openstack

# The e2e suite's own check helpers (same folder, run as scripts).
from e2e_test import Failed, check, new_member, run_checks, wait_for

RUN = uuid.uuid4().hex[:6]
CLOUD_DIR = os.environ.get("NOVADOCK_CLOUD_DIR", "/opt/novadock-cloud")
FACADE = os.environ.get("NOVADOCK_CLOUD_FACADE", "http://127.0.0.1:9293")
STATUS_TIMEOUT = 180


def sh(*cmd, input=None):
    p = subprocess.run(cmd, check=False, input=input, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise Failed(f"{' '.join(cmd)}: rc {p.returncode}: {p.stderr.decode()[-500:]}")
    return p.stdout


def engine_id(reference):
    p = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", reference],
                       check=False, capture_output=True, timeout=60)
    return p.stdout.decode().strip() if p.returncode == 0 else None


def facade_id(docker_id):
    return str(uuid.uuid5(uuid.NAMESPACE_OID, docker_id))


def facade(path, token=None):
    """(status, body) of a GET on the facade."""
    req = urllib.request.Request(FACADE + path)
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def unique_image(tag, marker):
    """A busybox image of its own, with /marker saying `marker`."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/bin")
        subprocess.run(["cp", "/bin/busybox", f"{d}/bin/busybox"], check=True)
        for applet in ("sh", "cat", "sleep"):
            os.symlink("busybox", f"{d}/bin/{applet}")
        with open(f"{d}/marker", "w", encoding="utf-8") as f:
            f.write(marker)
        tar = subprocess.run(["tar", "-C", d, "-c", "."], check=True, capture_output=True).stdout
        sh("docker", "import", "-c", 'CMD ["/bin/sleep", "3600"]', "-", tag, input=tar)


def poisoned(tag, names):
    """`docker save` of `tag`, its manifest and repositories naming `names`."""
    data = sh("docker", "save", tag)
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst:
        config = json.loads(src.extractfile("manifest.json").read())[0]["Config"]
        for m in src.getmembers():
            body = src.extractfile(m).read() if m.isfile() else None
            if m.name == "manifest.json":
                manifest = json.loads(body)
                manifest[0]["RepoTags"] = names
                body = json.dumps(manifest).encode()
            elif m.name == "repositories":
                repos = {}
                for n in names:
                    repo, t = n.rsplit(":", 1)
                    repos.setdefault(repo, {})[t] = config.removesuffix(".json")
                body = json.dumps(repos).encode()
            if body is not None:
                m.size = len(body)
                dst.addfile(m, io.BytesIO(body))
            else:
                dst.addfile(m)
    return out.getvalue()


class Tenants:
    def __init__(self):
        self.admin = openstack.connect()
        self.flavor = self.admin.compute.find_flavor("m1.tiny", ignore_missing=False)
        self.net = self.admin.network.find_network("private", ignore_missing=False)
        self.cleanup = []  # callables, run in reverse

    def project(self, name):
        conn, project = new_member(self.admin, f"{name}-{RUN}", self.cleanup)
        # The demo network serves every project (as a shared network would).
        rbac = self.admin.network.create_rbac_policy(
            object_type="network", object_id=self.net.id, action="access_as_shared",
            target_project_id=project.id)
        self.cleanup.append(lambda: self.admin.network.delete_rbac_policy(rbac))
        return conn

    def upload(self, conn, name, data, visibility="private"):
        """The user's upload, as `openstack image create --file` makes it."""
        image = conn.image.create_image(name=name, container_format="docker",
                                        disk_format="raw", visibility=visibility,
                                        data=io.BytesIO(data), use_import=False,
                                        validate_checksum=False)
        self.cleanup.append(lambda: self.admin.image.delete_image(image.id, ignore_missing=True))
        return wait_for(f"image {name} active", 120,
                        lambda: (i := conn.image.get_image(image.id)).status == "active" and i)

    def boot(self, conn, name, image_id):
        s = conn.compute.create_server(name=name, image_id=image_id, flavor_id=self.flavor.id,
                                       networks=[{"uuid": self.net.id}])
        self.cleanup.append(lambda: self.admin.compute.delete_server(s.id, ignore_missing=True))
        return wait_for(f"server {name} ACTIVE", STATUS_TIMEOUT,
                        lambda: self.active(conn, s.id))

    @staticmethod
    def active(conn, server_id):
        s = conn.compute.get_server(server_id)
        if s.status == "ERROR":
            raise Failed(f"server {server_id} went ERROR: {s.fault}")
        return s if s.status == "ACTIVE" and not s.task_state else None

    # The checks, in order.

    def test_two_projects_and_a_private_image(self):
        self.a = self.project("e2e-tenant-a")
        self.b = self.project("e2e-tenant-b")
        tag_a = f"novadock-cloud/tenant-a-{RUN}:1"
        unique_image(tag_a, f"private-to-a-{RUN}")
        self.cleanup.append(lambda: subprocess.run(["docker", "rmi", tag_a], check=False,
                                                   capture_output=True))
        self.image_a = self.upload(self.a, f"a-private-{RUN}", sh("docker", "save", tag_a))
        check(self.image_a.visibility == "private", f"visibility {self.image_a.visibility}")
        server = self.boot(self.a, f"a-{RUN}", self.image_a.id)
        out = sh("docker", "exec", f"nova-{server.id}", "cat", "/marker").decode()
        check(out == f"private-to-a-{RUN}", f"A's server runs {out!r}")
        self.engine_a = engine_id(f"novadock-glance:{self.image_a.id}")
        check(self.engine_a, "A's image is in the engine under its Glance id")

    def test_b_cannot_see_or_boot_a_private_image(self):
        check(self.b.image.find_image(self.image_a.id) is None, "B sees A's private image")
        try:
            s = self.b.compute.create_server(name=f"b-steals-{RUN}", image_id=self.image_a.id,
                                             flavor_id=self.flavor.id,
                                             networks=[{"uuid": self.net.id}])
        except openstack.exceptions.SDKException:
            return
        self.cleanup.append(lambda: self.admin.compute.delete_server(s.id, ignore_missing=True))
        s = wait_for("B's boot of A's image settles", STATUS_TIMEOUT,
                     lambda: (x := self.b.compute.get_server(s.id)).status in ("ERROR", "ACTIVE")
                     and x)
        check(s.status == "ERROR", f"B booted A's private image: {s.status}")

    def test_a_poisoned_upload_takes_over_nothing(self):
        tag_b = f"novadock-cloud/tenant-b-{RUN}:1"
        unique_image(tag_b, f"planted-by-b-{RUN}")
        self.cleanup.append(lambda: subprocess.run(["docker", "rmi", tag_b], check=False,
                                                   capture_output=True))
        victim = self.image_a.id
        data = poisoned(tag_b, [f"novadock-glance:{victim}", f"novadock-glance-store:{victim}",
                                "busybox:latest"])
        before_busybox = engine_id("busybox:latest")
        mine = self.upload(self.b, f"b-poisoned-{RUN}", data)
        check(engine_id(f"novadock-glance:{victim}") == self.engine_a,
              "B's upload moved A's cache tag")
        check(engine_id(f"novadock-glance-store:{victim}") == self.engine_a,
              "B's upload moved A's store mark")
        check(engine_id("busybox:latest") == before_busybox, "B's upload tagged busybox:latest")
        # A's next server still runs A's files; B's image boots as B's.
        server = self.boot(self.a, f"a-again-{RUN}", victim)
        out = sh("docker", "exec", f"nova-{server.id}", "cat", "/marker").decode()
        check(out == f"private-to-a-{RUN}", f"A's new server runs {out!r}")
        server_b = self.boot(self.b, f"b-{RUN}", mine.id)
        out = sh("docker", "exec", f"nova-{server_b.id}", "cat", "/marker").decode()
        check(out == f"planted-by-b-{RUN}", f"B's server runs {out!r}")

    def test_facade_wants_a_token_and_shows_each_project_its_own(self):
        status, _ = facade("/v2/images")
        check(status == 401, f"no token: {status}")
        status, _ = facade("/v2/images", token="not-a-token")
        check(status == 401, f"a forged token: {status}")
        fid = facade_id(self.engine_a)
        token_b = self.b.auth_token
        status, body = facade("/v2/images?limit=1000", token=token_b)
        check(status == 200, f"B's list: {status} {body[:200]!r}")
        ids = [i["id"] for i in json.loads(body)["images"]]
        check(fid not in ids, "B lists A's private image")
        for path in (f"/v2/images/{fid}", f"/v2/images/{fid}/file"):
            status, _ = facade(path, token=token_b)
            check(status == 404, f"B GET {path}: {status}")
        status, body = facade(f"/v2/images/{fid}", token=self.a.auth_token)
        check(status == 200, f"A shows its own image: {status}")
        status, body = facade("/v2/images?limit=1000", token=self.admin.auth_token)
        check(status == 200 and fid in body.decode(), f"admin lists every image: {status}")

    def test_the_cloud_keeps_its_secrets(self):
        import kombu
        import pymysql
        # RabbitMQ's well-known guest account is gone.
        try:
            with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//",
                                  connect_timeout=10) as c:
                c.connect()
            raise Failed("RabbitMQ accepts guest:guest")
        except Failed:
            raise
        except Exception as e:  # noqa: BLE001 - any refusal will do
            check("ACCESS_REFUSED" in str(e) or "Access refused" in str(e),
                  f"guest:guest: {e!r}")
        # The services' database user has their databases only.
        conf = configparser.ConfigParser(interpolation=None, strict=False)
        conf.read(f"{CLOUD_DIR}/etc/nova/nova.conf")
        url = conf["database"]["connection"]
        user, rest = url.split("://", 1)[1].split(":", 1)
        password, host = rest.split("@", 1)[0], rest.split("@", 1)[1].split("/", 1)[0]
        db = pymysql.connect(host=host, user=user, password=password, connect_timeout=10)
        try:
            for sql in (f"CREATE DATABASE e2e_probe_{RUN}", "SELECT user FROM mysql.user",
                        f"CREATE USER 'e2e_{RUN}'@'%'"):
                try:
                    with db.cursor() as cur:
                        cur.execute(sql)
                    raise Failed(f"the services' database user may: {sql}")
                except pymysql.err.MySQLError as e:
                    check(e.args[0] in (1044, 1142, 1227), f"{sql}: {e}")
        finally:
            db.close()
        # Keystone's keys and the configuration files are root's alone.
        for d in ("keystone/fernet-keys", "keystone/credential-keys"):
            mode = os.stat(f"{CLOUD_DIR}/etc/{d}").st_mode
            check(mode & 0o077 == 0, f"{d} is mode {oct(mode & 0o777)}")
        for top, _, files in os.walk(f"{CLOUD_DIR}/etc"):
            for f in files:
                if f.endswith((".conf", ".ini", ".env")) or f == "openrc":
                    mode = os.stat(os.path.join(top, f)).st_mode
                    check(mode & 0o077 == 0, f"{top}/{f} is mode {oct(mode & 0o777)}")
        # No password on any process's command line.
        secrets = []
        with open(f"{CLOUD_DIR}/etc/secrets.env") as f:
            secrets = [line.split("=", 1)[1].strip() for line in f if "=" in line]
        check(secrets, "no secrets read")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            check(not any(x in cmd for x in secrets),
                  f"a password on the command line of pid {pid}: {cmd[:60]}...")

    def finish(self):
        for undo in reversed(self.cleanup):
            try:
                undo()
            except Exception as e:  # noqa: BLE001 - clean up the rest anyway
                print(f"cleanup: {e}", flush=True)


def main():
    return run_checks(Tenants(), "e2e tenants",
                      fatal=("test_two_projects_and_a_private_image",))


if __name__ == "__main__":
    sys.exit(main())
