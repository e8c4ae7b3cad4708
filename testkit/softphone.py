"""A real softphone and a real caller on loopback, for the tests of ``live --softphone``:
baresip (its own config folder, SIP, ctrl_tcp and console on free ports, audio through a
private PulseAudio server) and sipp calling it with G.711 RTP that carries a recording.

    with Baresip(pulse, player="softphone_out", source="agent_mic.monitor") as phone:
        caller = Caller(folder, customer_samples_8k, hold=True)
        caller.start(phone.sip_port)
        phone.key("a")                     # the agent answers (baresip's menu keys)
        ...
        caller.wait()
        caller.sent("ACK")                 # wall-clock times sipp sent each ACK

Why the keys go through baresip's ``cons`` module (UDP): ctrl_tcp takes one client at a time
(a new connection closes the one before), and that client is the monitor. The agent works
baresip from its own interface; ``cons`` is that interface here.
"""

from __future__ import annotations

import datetime
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from testkit.harness import Harness, end_process
from testkit.ports import free_port
from testkit.pulse import PulseServer

MODULES = Path("/usr/lib/baresip/modules")
ULAW_RATE_HZ = 8000
_ESTABLISHED, _LISTEN = "01", "0A"


def available() -> bool:
    """True when baresip (with the modules used here) and sipp are installed."""
    return (all(shutil.which(p) for p in ("baresip", "sipp"))
            and all((MODULES / f"{m}.so").exists()
                    for m in ("ctrl_tcp", "cons", "menu", "account", "g711", "pulse")))


def _tcp_states(port: int, local: bool) -> set[str]:
    """The states (/proc/net/tcp's hex codes) of this machine's TCP sockets whose local (or
    remote) address is 127.0.0.1:``port``."""
    column = 1 if local else 2
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return {parts[3] for parts in map(str.split, rows)
            if parts[column] == f"0100007F:{port:04X}"}


def connected_to(port: int) -> bool:
    """Some process of this machine holds an established TCP connection to 127.0.0.1:port."""
    return _ESTABLISHED in _tcp_states(port, local=False)


def listening(port: int) -> bool:
    """Something listens on 127.0.0.1:``port``: looked up, not connected to (a connection
    would take ctrl_tcp's one client place from the monitor)."""
    return _LISTEN in _tcp_states(port, local=True)


class Baresip(Harness):
    """baresip 1.0.0 answering on 127.0.0.1, audio to and from PulseAudio devices."""

    def __init__(self, pulse: PulseServer, player: str, source: str, alert: str) -> None:
        self.pulse = pulse
        self.player, self.source, self.alert = player, source, alert
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.ctrl_port = free_port()
        self.cons_port = free_port(socket.SOCK_DGRAM)

    def start(self, timeout: float = 10.0, reuse: bool = False) -> None:
        if not reuse:
            self.dir = Path(tempfile.mkdtemp(prefix="cm-baresip-"))
        assert self.dir is not None
        (self.dir / "accounts").write_text("<sip:agent@127.0.0.1>;regint=0\n")
        (self.dir / "config").write_text("\n".join([
            "poll_method epoll", f"sip_listen 127.0.0.1:{self.sip_port}",
            f"audio_player pulse,{self.player}", f"audio_source pulse,{self.source}",
            f"audio_alert pulse,{self.alert}", f"module_path {MODULES}",
            "module g711.so", "module pulse.so", "module cons.so", "module_app account.so",
            "module_app menu.so", "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"cons_listen 127.0.0.1:{self.cons_port}", ""]))
        with open(self.dir / "baresip.log", "ab") as log:
            self.proc = subprocess.Popen(["baresip", "-f", str(self.dir)], env=self.pulse.env,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not listening(self.ctrl_port):  # ready once ctrl_tcp listens
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, f"baresip did not start:\n{self.log()}"
            time.sleep(0.05)

    def restart(self) -> None:
        """Kill baresip mid-whatever (as a crash does) and start it again, same ports."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.start(reuse=True)

    def key(self, keys: str) -> float:
        """Press menu keys (a: accept, b: hang up, x: hold, X: resume); returns the wall
        clock they were sent at."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            sent = time.time()
            s.sendto(keys.encode(), ("127.0.0.1", self.cons_port))
        return sent

    def log(self) -> str:
        path = self.dir / "baresip.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            # With a call up baresip waits for it to close: killed after half a second then.
            end_process(self.proc, signal.SIGTERM, timeout=0.5)
            self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


_INVITE = """INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: customer <sip:customer@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:customer@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=customer 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""
_REQUEST = """{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: customer <sip:customer@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:customer@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
"""
_OK = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:customer@[local_ip]:[local_port]>
"""
_OK_SDP = _OK + """Content-Type: application/sdp
Content-Length: [len]

v=0
o=customer 1 {version} IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""


def _send(text: str, extra: str = "", retrans: bool = False) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"<send{attr}><![CDATA[\n{text}\n]]>{extra}</send>\n"


def scenario(audio: str, hold: bool, talk_after_ms: int) -> str:
    """sipp's customer: calls, sends ``audio`` (raw mu-law) as RTP from the ACK on; with
    ``hold``, answers the hold's and the resume's re-INVITEs and hangs up ``talk_after_ms``
    after the resume; without, waits for the agent to hang up."""
    steps = [_send(_INVITE, retrans=True),
             '<recv response="100" optional="true"/>\n<recv response="180" optional="true"/>\n'
             '<recv response="183" optional="true"/>\n<recv response="200" rtd="true"/>\n',
             _send(_REQUEST.format(method="ACK", cseq=1),
                   f'<action><exec rtp_stream="{audio},1,0"/></action>')]
    if hold:
        for version, direction in ((2, "a=recvonly\n"), (3, "")):
            steps += ['<recv request="INVITE"/>\n',
                      _send(_OK_SDP.format(version=version) + direction),
                      '<recv request="ACK"/>\n']
        steps += [f'<pause milliseconds="{talk_after_ms}"/>\n',
                  _send(_REQUEST.format(method="BYE", cseq=2), retrans=True),
                  '<recv response="200" crlf="true"/>\n']
    else:
        steps += ['<recv request="BYE"/>\n', _send(_OK + "Content-Length: 0\n")]
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="customer">\n'
            + "".join(steps) + "</scenario>\n")


class Caller:
    """One call from sipp to baresip; what it sent and when, from its message trace."""

    def __init__(self, folder: Path, samples: np.ndarray, hold: bool = True,
                 talk_after_ms: int = 2500) -> None:
        """``samples``: the customer's audio at 8 kHz (int16 units), sent from the ACK on."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "customer.ulaw").write_bytes(ulaw(samples))
        (folder / "customer.xml").write_text(scenario("customer.ulaw", hold, talk_after_ms))
        self.proc: subprocess.Popen | None = None

    def start(self, port: int) -> float:
        """Call 127.0.0.1:``port``; returns the wall clock sipp was started at."""
        started = time.time()
        with open(self.folder / "sipp.log", "wb") as log:
            self.proc = subprocess.Popen(
                ["sipp", "-sf", "customer.xml", "-s", "agent", f"127.0.0.1:{port}", "-m", "1",
                 "-p", str(free_port(socket.SOCK_DGRAM)), "-mp", str(_even_port()),
                 "-trace_msg", "-message_file", "messages.log", "-nostdin", "-timeout", "60s"],
                cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        return started

    def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        finally:
            end_process(self.proc)

    def sent(self, method: str) -> list[float]:
        """Wall-clock times (as ``time.time``) sipp sent each ``method`` request."""
        blocks = (self.folder / "messages.log").read_text(errors="replace").split("-" * 47 + " ")
        times = []
        for block in blocks[1:]:
            stamp, _, rest = block.partition("\n")
            body = rest.partition("\n\n")[2].lstrip() if "message sent" in rest else ""
            if "message sent" in rest.split("\n", 1)[0] and body.startswith(method + " "):
                local = datetime.datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f")
                times.append(local.timestamp())
        return times

    def stop(self) -> None:
        if self.proc is not None:
            end_process(self.proc)


def _even_port() -> int:
    """A free UDP port pair for RTP and RTCP (RTP's even)."""
    while True:
        port = free_port(socket.SOCK_DGRAM)
        if port % 2 == 0:
            return port


def ulaw(samples: np.ndarray) -> bytes:
    """G.711 mu-law bytes of int16 samples at 8 kHz, encoded by sox (a real encoder)."""
    pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return subprocess.run(["sox", "-t", "raw", "-r", str(ULAW_RATE_HZ), "-e", "signed", "-b",
                           "16", "-c", "1", "-", "-t", "ul", "-"], input=pcm,
                          capture_output=True, check=True).stdout
