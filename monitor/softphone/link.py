"""The connection to baresip's ctrl_tcp, kept open on a thread of its own: what baresip says
becomes ``PhoneEvent``s on a queue, whatever the session is doing.

baresip accepts one ctrl_tcp client at a time (a new connection closes the one before), so
the monitor must be the only one. A softphone that is not there yet, or goes away (restarted,
crashed), is tried again every ``reconnect_s``; each outage is one warning line, and it ends
when baresip answers (a connection a starting baresip drops unanswered is the same outage).
On every (re)connection and every SDP event the calls' states are asked for (``listcalls``):
that is how holds, and calls that ended while the connection was down, are learnt.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable

from monitor.config import SoftphoneConfig
from monitor.softphone.baresip import LISTCALLS, BaresipMessageError, PhoneEvent, translate
from monitor.softphone.netstring import NetstringError, NetstringReader

READ_TIMEOUT_S = 0.2
"""How long a read waits before looking at the stop flag: the thread ends within this."""


class BaresipLink:
    """A ctrl_tcp client: ``start`` it, take ``events``, ``close`` it."""

    def __init__(self, host: str, port: int, cfg: SoftphoneConfig,
                 warn: Callable[[str], None]) -> None:
        self.address = f"{host}:{port}"
        self._host, self._port = host, port
        self._cfg = cfg
        self._warn = warn
        self.events: queue.Queue[PhoneEvent] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baresip-link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        outage = False  # a line was written and baresip has not answered since
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self._host, self._port),
                                                timeout=self._cfg.reconnect_s)
            except OSError as exc:
                if not outage:
                    self._warn(f"softphone: cannot reach baresip's ctrl_tcp at {self.address} "
                               f"({exc.strerror or exc}); trying every {self._cfg.reconnect_s:g} s")
                outage = True
                self._stop.wait(self._cfg.reconnect_s)
                continue
            with contextlib.closing(sock):
                why, answered = self._serve(sock, outage)
            outage = outage and not answered
            if why is None:
                continue
            if outage:
                # Dropped before baresip said anything (a softphone still starting): the same
                # outage, tried again in a while.
                self._stop.wait(self._cfg.reconnect_s)
                continue
            self._warn(f"softphone: lost baresip at {self.address} ({why}); reconnecting")
            outage = True

    def _serve(self, sock: socket.socket, outage: bool) -> tuple[str | None, bool]:
        """Read until the connection ends (returns why) or the link is closed (None), and
        whether baresip answered: only an answer ends an outage, so "connected" is said then."""
        reader = NetstringReader(self._cfg.max_message_bytes)
        sock.settimeout(READ_TIMEOUT_S)
        answered = False
        try:
            sock.sendall(LISTCALLS)
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return "connection closed", answered
                if outage and not answered:
                    self._warn(f"softphone: connected to baresip at {self.address}")
                answered = True
                for item in reader.feed(data):
                    self._take(sock, item)
        except OSError as exc:
            return exc.strerror or str(exc), answered
        return None, answered

    def _take(self, sock: socket.socket, item: bytes | NetstringError) -> None:
        if isinstance(item, NetstringError):
            self._warn(f"softphone: bad frame from baresip ({item}); skipped")
            return
        try:
            event = translate(item)
        except BaresipMessageError as exc:
            self._warn(f"softphone: {exc} from baresip; skipped")
            return
        if event is None:
            return
        self.events.put(event)
        if event.kind == "media":
            sock.sendall(LISTCALLS)
