"""Unit tests of the delivery history: seq_event order, after/limit, bounds, preload and the file copy."""

from __future__ import annotations

import io
import json

from mfa_harness.fake_smtp.history import DeliveryLog
from mfa_harness.timebase import Timebase


def clock() -> Timebase:
    return Timebase(epoch=1000.0, scale=10.0, wall=lambda: 1002.5)


def test_lines_carry_contract_fields_and_scenario_time() -> None:
    out = io.StringIO()
    log = DeliveryLog(clock(), file=out)
    line = log.record("refused", recipients=("a@x",), rule=2, stage="rcpt", smtp_code=451, fault="tempfail")
    assert line == {"src": "inbox", "wall": 1002.5, "st": 25.0, "seq_event": 1, "event": "refused",
                    "message_id": None, "recipients": ["a@x"], "code": None, "rule": 2, "stage": "rcpt",
                    "smtp_code": 451, "fault": "tempfail"}
    assert json.loads(out.getvalue()) == line


def test_after_limit_and_bound() -> None:
    log = DeliveryLog(clock(), max_lines=3)
    for i in range(5):
        log.record("received", size=i)
    assert [json.loads(x)["seq_event"] for x in log.after(0)] == [3, 4, 5]
    assert [json.loads(x)["seq_event"] for x in log.after(3)] == [4, 5]
    assert [json.loads(x)["seq_event"] for x in log.after(0, limit=2)] == [3, 4]
    assert log.after(5) == []


def test_preload_continues_seq_event() -> None:
    old = DeliveryLog(clock())
    lines = [json.dumps(old.record("received")) for _ in range(3)]
    new = DeliveryLog(clock(), max_lines=0)
    new.preload([*lines, "not json"])
    assert new.record("received")["seq_event"] == 4
    assert len(new.after(0)) == 4
