"""Lifecycle events: one streaming request to the service's /v1/events,
each line turned into a nova.virt.event.LifecycleEvent for Nova as it comes.

The service decides what Nova hears and when: it holds STOPPED back for
``[novadock] lifecycle_event_delay`` seconds and drops it if the instance
starts again meanwhile, as the libvirt driver does for reboots. The listener
only translates; it reconnects by itself when the service restarts, backing
off while it is down and logging each outage once.
"""

import json
import threading

import novadock_client
from oslo_log import log as logging

from nova.virt import event as virtevent
from nova.virt.novadock import conf as novadock_conf

LOG = logging.getLogger(__name__)
CONF = novadock_conf.CONF

TRANSITIONS = {
    "started": virtevent.EVENT_LIFECYCLE_STARTED,
    "stopped": virtevent.EVENT_LIFECYCLE_STOPPED,
    "paused": virtevent.EVENT_LIFECYCLE_PAUSED,
    "resumed": virtevent.EVENT_LIFECYCLE_RESUMED,
    "suspended": virtevent.EVENT_LIFECYCLE_SUSPENDED,
}

# The service sends a heartbeat every 10 s: three missed ones mean the
# connection is dead.
READ_TIMEOUT = 30.0
# While the service is down, retry after 1 s, then twice as long each time up
# to 10 s: a long outage costs a connection attempt every 10 s, not every
# second. A stream that was up starts again from 1 s.
RECONNECT_DELAY = 1.0
RECONNECT_DELAY_MAX = 10.0


class EventListener:
    """Follows the service's event stream on a thread of its own."""

    def __init__(self, emit, socket_path=None):
        self._emit = emit
        self._socket_path = socket_path
        self._stop = threading.Event()
        self._thread = None
        self.connected = threading.Event()

    @property
    def socket_path(self):
        return self._socket_path or CONF.novadock.socket_path

    def start(self):
        if (self._thread is not None and self._thread.is_alive()
                and not self._stop.is_set()):
            return
        # Each thread has its own stop flag: a thread still winding down
        # after stop() must not take the new one with it.
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="novadock-events",
            daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()

    def _run(self, stop):
        delay = RECONNECT_DELAY
        logged = False  # this outage was logged: one warning per outage
        while not stop.is_set():
            try:
                self._follow(stop)
            except Exception as e:  # noqa: BLE001 - any failure means reconnect
                if self.connected.is_set():
                    # It was up: a new outage, retried at the shortest delay.
                    delay, logged = RECONNECT_DELAY, False
                if not logged:
                    LOG.warning("novadock event stream at %s lost: %s; "
                                "reconnecting (every %g s at most, not logged "
                                "again until it is back)", self.socket_path,
                                e, RECONNECT_DELAY_MAX)
                    logged = True
                else:
                    LOG.debug("novadock event stream at %s still down: %s; "
                              "next attempt in %g s", self.socket_path, e, delay)
            self.connected.clear()
            stop.wait(delay)
            delay = min(delay * 2, RECONNECT_DELAY_MAX)

    def _follow(self, stop):
        conn = novadock_client.UnixHTTPConnection(self.socket_path, READ_TIMEOUT)
        try:
            conn.request("GET", "/v1/events",
                         headers={"Accept": "application/x-ndjson"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise OSError(f"GET /v1/events answered HTTP {resp.status}")
            self.connected.set()
            LOG.info("Following lifecycle events from %s", self.socket_path)
            while not stop.is_set():
                line = resp.readline()
                if not line:
                    raise OSError("the service closed the event stream")
                self._handle(line)
        finally:
            conn.close()

    def _handle(self, line):
        try:
            message = json.loads(line)
        except ValueError:
            LOG.warning("novadock sent an event line that is not JSON: %r", line)
            return
        transition = TRANSITIONS.get(message.get("event"))
        if transition is None:
            if message.get("event") == "lagged":
                LOG.warning("Missed %s lifecycle events; the power state sync "
                            "will catch up", message.get("missed"))
            return
        self._safe_emit(virtevent.LifecycleEvent(message["uuid"], transition))

    def _safe_emit(self, event):
        try:
            self._emit(event)
        except Exception:
            LOG.exception("Handling lifecycle event %s failed", event)
