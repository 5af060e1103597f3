"""How API answers are written: the JSON bytes of json.dumps, no ETag, and the long-poll's
immediate, zero-timeout and timed-out answers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from fake_smtp_helpers import InboxProcess

SAMPLES = [
    {"ID": "BwiAhOoPj8lE3omnkJ2CNc", "Read": False, "From": {"Name": "Jörg", "Address": "j@x.example"},
     "To": [], "Subject": "Grüße – ваш код \u2028 \"quoted\" \\ \x00", "Tags": ["a", "b"], "Size": 3012,
     "Seq": 2**53 + 1, "Code": None, "Received": 1796004233.8392358, "Delivered": 0.1 + 0.2, "neg": -0.0},
    [1, 2.5, 1e300, 1e-300, 10**30, True, None, "é", {"1": {"2": []}}],
    {1: "int key", 2.5: "float key", None: "null key", False: "bool key"},
    "just a string", 42, [], {},
]


def test_api_json_is_json_dumps_without_a_new_encoder_per_answer() -> None:
    """Byte for byte what json.dumps gave (ensure_ascii=False, default separators), and the
    history's compact lines what json.dumps with separators=(",", ":") gave."""
    from mfa_harness.fake_smtp.api_base import encode_json
    from mfa_harness.fake_smtp.history import c_encoder, encode_line

    for value in SAMPLES:
        assert encode_json(value) == json.dumps(value, ensure_ascii=False)
        assert encode_line(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    special = [math.nan, math.inf, -math.inf]
    assert c_encoder(", ", ": ")(special) == json.dumps(special, ensure_ascii=False)


def test_api_answers_carry_no_etag(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    """Lists, searches, waits and info change with every delivery: no ETag (Tornado hashed every
    answer for one), as Mailpit's API sends none; an If-None-Match never gets a 304."""
    to = addr("etag")
    inbox.send(to, body="code: 515151\r\n")
    for path in ("/api/v1/messages?limit=1", f"/api/v1/search?query=to:{to}", "/api/v1/info",
                 f"/api/v1/wait?query=to:{to}&timeout=5"):
        r = inbox.get(path)
        assert r.status == 200, path
        assert "etag" not in {k.lower() for k in r.headers}, (path, r.headers)
        assert r.body == json.dumps(json.loads(r.body), ensure_ascii=False).encode(), path


def test_wait_with_zero_timeout(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    """timeout=0 answers at once: the stored match (200) or 204, and leaves no waiter behind."""
    to = addr("zero")
    base = inbox.get_json("/api/v1/info")["Waiters"]
    assert inbox.wait(f"to:{to}", timeout=0).status == 204
    assert inbox.get_json("/api/v1/info")["Waiters"] == base
    inbox.send(to, body="code: 616161\r\n")
    r = inbox.wait(f"to:{to}", timeout=0)
    assert r.status == 200 and r.json()["Code"] == "616161"
    assert inbox.wait(f"to:{to}", after=r.json()["Seq"], timeout=0.2).status == 204
    assert inbox.get_json("/api/v1/info")["Waiters"] == base
