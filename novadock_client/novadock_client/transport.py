"""HTTP/1.1 with JSON to the novadock service over its Unix socket.

One connection per call and a timeout on every socket operation. Uploads go
out with chunked transfer encoding as the data arrives and downloads come
back as an iterator: nothing holds a whole image in memory.

Every failure is one of three exceptions (all ``NovadockError``), so that
each driver maps them to its own framework's exceptions in one place:

- ``ServiceError``: the service answered an error status; it carries the
  service's JSON ``code`` and ``message`` (api/openapi.json ``Error``) and the
  HTTP ``status``;
- ``TransportError``: no complete answer (no socket, nobody listening, a
  timeout, a connection that broke);
- ``MalformedAnswer``: a 2xx answer whose body is not JSON.
"""

import http.client
import json
import socket

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


class NovadockError(Exception):
    """Any failure of one exchange with the service."""

    def __init__(self, text, socket_path, method, path):
        super().__init__(text)
        self.socket_path = socket_path
        self.method = method
        self.path = path


def parse_error(status, body):
    """(code, message) of an error answer. ``code`` is None when the body is
    not the service's error document (another server on the socket)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        return None, (f"a body that is not JSON: {text.strip()[:500]!r}"
                      if text.strip() else f"HTTP {status} with no body")
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict) and "code" in err:
        return str(err["code"]), str(err.get("message", ""))
    return None, f"no error document: {text.strip()[:500]!r}"


class ServiceError(NovadockError):
    """The service answered with an error status: ``status`` (HTTP),
    ``code`` (the service's error code, None if the body is not its error
    document) and ``message`` (the service's own words)."""

    def __init__(self, socket_path, method, path, status, body):
        self.status = status
        self.body = body
        self.code, self.message = parse_error(status, body)
        super().__init__(
            f"novadock service at {socket_path}: {method} {path} answered "
            f"HTTP {status} {self.code or '(not a novadock error)'}: "
            f"{self.message}", socket_path, method, path)


class TransportError(NovadockError):
    """No complete answer. ``cause`` is the OSError or HTTPException;
    ``connected`` says whether the socket was reached at all."""

    def __init__(self, socket_path, method, path, cause, connected, timeout):
        self.cause = cause
        self.connected = connected
        self.timeout = timeout
        if self.timed_out:
            text = (f"novadock service at {socket_path}: no answer to {method} "
                    f"{path} within {timeout:g} s ({cause or 'timed out'})")
        elif connected:
            text = (f"novadock service at {socket_path}: {method} {path} "
                    f"failed: {type(cause).__name__}: {cause}")
        else:
            text = (f"novadock service not reachable on {socket_path} "
                    f"({method} {path}): {cause}")
        super().__init__(text, socket_path, method, path)

    @property
    def timed_out(self):
        return isinstance(self.cause, TimeoutError)


class MalformedAnswer(NovadockError):
    """A 2xx answer whose body is not JSON."""

    def __init__(self, socket_path, method, path, status, body):
        self.status = status
        self.body = body
        super().__init__(
            f"novadock service at {socket_path}: {method} {path} answered "
            f"HTTP {status} with a body that is not JSON: {body[:200]!r}",
            socket_path, method, path)


class Response:
    """What one exchange gave back: status, headers and the raw body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def _identity(exc):
    return exc


class Client:
    """Calls to the service on ``socket_path``.

    ``translate`` turns each ``NovadockError`` into the exception to raise
    (a driver's own); by default they are raised as they are.
    """

    def __init__(self, socket_path=None, timeout=None, translate=None):
        self._socket_path = socket_path
        self._timeout = timeout
        self._translate = translate or _identity

    # Properties, so that a driver may read them from its configuration at
    # call time.
    @property
    def socket_path(self):
        return self._socket_path

    @property
    def timeout(self):
        return self._timeout

    def _fail(self, exc):
        return self._translate(exc)

    def _connect(self, method, path, timeout):
        conn = UnixHTTPConnection(self.socket_path, timeout)
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            raise self._fail(TransportError(
                self.socket_path, method, path, e, False, timeout)) from e
        return conn

    def _broken(self, method, path, e, timeout):
        return self._fail(TransportError(
            self.socket_path, method, path, e, True, timeout))

    def _exchange(self, method, path, body, timeout):
        """Send one request with a JSON body (or none) and read the whole
        answer into a Response."""
        conn = self._connect(method, path, timeout)
        try:
            headers = {"Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        except (OSError, http.client.HTTPException) as e:
            raise self._broken(method, path, e, timeout) from e
        finally:
            conn.close()

    def decode(self, method, path, resp):
        """The decoded JSON body of a 2xx answer (None if empty); the
        error otherwise."""
        if not 200 <= resp.status < 300:
            raise self._fail(ServiceError(
                self.socket_path, method, path, resp.status, resp.body))
        if not resp.body:
            return None
        try:
            return json.loads(resp.body.decode("utf-8"))
        except ValueError as e:
            raise self._fail(MalformedAnswer(
                self.socket_path, method, path, resp.status, resp.body)) from e

    def call(self, method, path, body=None, timeout=None):
        """One JSON call: the decoded answer, None for an empty one."""
        timeout = timeout or self.timeout
        resp = self._exchange(method, path, body, timeout)
        return self.decode(method, path, resp)

    def download(self, path, timeout=None, chunk_size=READ_CHUNK,
                 accept="application/x-tar"):
        """``GET path`` streamed: (iterator over the body's chunks,
        Content-Length or None). The connection stays open until the
        iterator is exhausted or closed; a body shorter than its
        Content-Length is an error, not a short image."""
        method = "GET"
        timeout = timeout or self.timeout
        conn = self._connect(method, path, timeout)
        try:
            conn.request(method, path, headers={"Accept": accept})
            resp = conn.getresponse()
            if not 200 <= resp.status < 300:
                self.decode(method, path,
                            Response(resp.status, {}, resp.read()))
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise self._broken(method, path, e, timeout) from e
        except BaseException:
            conn.close()
            raise
        length = resp.getheader("Content-Length")
        length = int(length) if length is not None else None
        return self._chunks(conn, resp, length, chunk_size, path,
                            timeout), length

    def _chunks(self, conn, resp, length, chunk_size, path, timeout):
        got = 0
        try:
            while True:
                try:
                    chunk = resp.read(chunk_size)
                except (OSError, http.client.HTTPException) as e:
                    raise self._broken("GET", path, e, timeout) from e
                if not chunk:
                    break
                got += len(chunk)
                yield chunk
            if length is not None and got != length:
                raise self._broken("GET", path, EOFError(
                    f"the body ended after {got} of {length} bytes"), timeout)
        finally:
            conn.close()

    def upload(self, method, path, chunks, timeout=None,
               content_type="application/x-tar"):
        """``method path`` with the body sent chunk by chunk as the iterable
        ``chunks`` yields. An exception raised by ``chunks`` goes up
        unchanged and the request is abandoned without its final chunk, so
        the service sees a truncated body and stores nothing. Returns the
        decoded JSON answer."""
        timeout = timeout or self.timeout
        conn = self._connect(method, path, timeout)
        try:
            send_error = None
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                conn.putheader("Content-Type", content_type)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.putheader("Accept", "application/json")
                conn.endheaders()
            except OSError as e:
                raise self._broken(method, path, e, timeout) from e
            for chunk in chunks:
                if not chunk:
                    continue
                try:
                    conn.send(b"%x\r\n" % len(chunk))
                    conn.send(chunk)
                    conn.send(b"\r\n")
                except OSError as e:
                    # The service may have answered and closed early (an
                    # invalid tarball): its answer says more than EPIPE.
                    send_error = e
                    break
            if send_error is None:
                try:
                    conn.send(b"0\r\n\r\n")
                except OSError as e:
                    send_error = e
            try:
                r = conn.getresponse()
                resp = Response(r.status, dict(r.getheaders()), r.read())
            except (OSError, http.client.HTTPException) as e:
                raise self._broken(method, path, send_error or e, timeout) from e
        finally:
            conn.close()
        if send_error is not None and 200 <= resp.status < 300:
            raise self._broken(method, path, send_error, timeout)
        return self.decode(method, path, resp)
