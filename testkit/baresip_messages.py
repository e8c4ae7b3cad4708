"""baresip 1.0.0's ctrl_tcp messages as the real program sent them on this machine (Debian's
baresip 1.0.0 called by sipp 3.6.1, accepted, held and resumed with its menu commands, then
hung up by the caller or here), for the tests of the softphone client. Key order and values
are as read from its socket; only the call id and the peer are those of one run."""

from __future__ import annotations

import json

from monitor.softphone.baresip import LISTCALLS_TOKEN

CALL = "1-10705@127.0.0.1"
PEER = "sip:sipp@127.0.0.1:15070"
_COMMON = (f'"accountaor":"sip:agent@127.0.0.1","direction":"incoming","peeruri":"{PEER}",'
           f'"peerdisplayname":"sipp","id":"{CALL}"')


def observed(kind: str, cls: str, param: str) -> bytes:
    """An event of the call above, in the shape and key order baresip sent it."""
    return (f'{{"event":true,"type":"{kind}","class":"{cls}",{_COMMON},"param":"{param}"}}'
            .encode())


INCOMING = observed("CALL_INCOMING", "call", PEER)
REMOTE_SDP = observed("CALL_REMOTE_SDP", "other", "offer")
LOCAL_SDP = observed("CALL_LOCAL_SDP", "other", "answer")
ESTABLISHED = observed("CALL_ESTABLISHED", "call", PEER)
RTPESTAB = observed("CALL_RTPESTAB", "other", "audio")
HOLD_ANSWERED = observed("CALL_REMOTE_SDP", "other", "answer")
CLOSED_BY_CALLER = observed("CALL_CLOSED", "call", "Connection reset by peer")
CLOSED_HERE = observed("CALL_CLOSED", "call", "Connection reset by user")
LISTED_HELD = json.dumps({
    "response": True, "ok": True, "token": LISTCALLS_TOKEN,
    "data": f"\n--- Active calls (1) ---\n> [line 1]  0:00:02  ESTABLISHED  (on hold)  {PEER}\n\n",
}).encode()
LISTED_NONE = json.dumps({"response": True, "ok": True, "token": LISTCALLS_TOKEN,
                          "data": "\n--- No active calls ---\n"}).encode()
