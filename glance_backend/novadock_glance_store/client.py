"""HTTP/1.1 to the novadock service's image API over its Unix socket.

One connection per call. Uploads go out with chunked transfer encoding as the
data arrives, downloads come back as an iterator over the response: nothing
holds a whole image in memory. Every failure becomes a glance_store exception
(errors.py).
"""

import http.client
import json
import socket
from urllib.parse import quote
from urllib.parse import urlencode

from novadock_glance_store import errors

READ_CHUNK = 1024 * 1024


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose transport is an AF_UNIX stream socket."""

    def __init__(self, socket_path, timeout):
        # The host name only fills the Host header.
        super().__init__("novadock", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def image_path(image_id, suffix=""):
    return "/v1/images/%s%s" % (quote(str(image_id), safe=""), suffix)


class NovadockImages:
    """The service's /v1/images API."""

    def __init__(self, socket_path, timeout):
        self.socket_path = socket_path
        self.timeout = timeout

    # -- transport -----------------------------------------------------------

    def _connect(self, method, path):
        conn = UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise errors.timed_out(self.socket_path, self.timeout, method,
                                   path) from None
        except OSError as exc:
            conn.close()
            raise errors.unreachable(self.socket_path, exc) from exc
        return conn

    def _failure(self, method, path, exc):
        if isinstance(exc, TimeoutError):
            return errors.timed_out(self.socket_path, self.timeout, method, path)
        return errors.broken(self.socket_path, method, path, exc)

    def _json_call(self, method, path, image_id):
        conn = self._connect(method, path)
        try:
            try:
                conn.request(method, path, headers={"Accept": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                raise self._failure(method, path, exc) from exc
        finally:
            conn.close()
        if resp.status >= 400:
            raise errors.from_response(resp.status, body, method, path, image_id)
        return self._decode(body, method, path) if body else None

    # -- the API ---------------------------------------------------------------

    def stored_image(self, image_id):
        """``GET /v1/images/<id>``: the StoredImage (size of its tarball...)."""
        return self._json_call("GET", image_path(image_id), image_id)

    def delete_image(self, image_id):
        """``DELETE /v1/images/<id>``; a missing image is not an error."""
        self._json_call("DELETE", image_path(image_id), image_id)

    def store_image(self, image_id, chunks, hashing_algo):
        """``PUT /v1/images/<id>/data``, the body sent chunk by chunk from the
        iterable ``chunks`` as it yields. An exception raised by ``chunks``
        goes up unchanged and the request is abandoned without its final
        chunk, so the service sees a truncated body and stores nothing.
        Returns the StoredImage the service answered."""
        method = "PUT"
        path = image_path(image_id, "/data?" + urlencode(
            {"hashing_algo": hashing_algo}))
        conn = self._connect(method, path)
        try:
            send_error = None
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                conn.putheader("Content-Type", "application/x-tar")
                conn.putheader("Transfer-Encoding", "chunked")
                conn.putheader("Accept", "application/json")
                conn.endheaders()
            except OSError as exc:
                raise self._failure(method, path, exc) from exc
            for chunk in chunks:
                if not chunk:
                    continue
                try:
                    conn.send(b"%x\r\n" % len(chunk))
                    conn.send(chunk)
                    conn.send(b"\r\n")
                except OSError as exc:
                    # The service may have answered and closed early (an
                    # invalid tarball): its answer says more than EPIPE.
                    send_error = exc
                    break
            if send_error is None:
                try:
                    conn.send(b"0\r\n\r\n")
                except OSError as exc:
                    send_error = exc
            try:
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                raise self._failure(method, path, send_error or exc) from exc
        finally:
            conn.close()
        if resp.status >= 400:
            raise errors.from_response(resp.status, body, method, path, image_id)
        if send_error is not None:
            raise self._failure(method, path, send_error)
        return self._decode(body, method, path)

    def read_image(self, image_id):
        """``GET /v1/images/<id>/data``: (iterator over the tarball's chunks,
        Content-Length or None). The connection stays open until the iterator
        is exhausted or closed."""
        method, path = "GET", image_path(image_id, "/data")
        conn = self._connect(method, path)
        try:
            conn.request(method, path, headers={"Accept": "application/x-tar"})
            resp = conn.getresponse()
            if resp.status >= 400:
                body = resp.read()
                raise errors.from_response(resp.status, body, method, path,
                                           image_id)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self._failure(method, path, exc) from exc
        except BaseException:
            conn.close()
            raise
        length = resp.getheader("Content-Length")
        length = int(length) if length is not None else None
        return self._body_chunks(conn, resp, length, method, path), length

    def _body_chunks(self, conn, resp, length, method, path):
        got = 0
        try:
            while True:
                try:
                    chunk = resp.read(READ_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise self._failure(method, path, exc) from exc
                if not chunk:
                    break
                got += len(chunk)
                yield chunk
            if length is not None and got != length:
                raise errors.broken(
                    self.socket_path, method, path,
                    EOFError("the body ended after %d of %d bytes" % (got, length)))
        finally:
            conn.close()

    def _decode(self, body, method, path):
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError as exc:
            raise errors.broken(self.socket_path, method, path, exc) from exc
