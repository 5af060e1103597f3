"""Target mode with an inbox started before the run: fault windows and history on the run's axis."""

from __future__ import annotations

import json

import pytest

from mfa_harness.scenarios.target_inbox import TargetInboxError, inbox_offset, restamp, shift_plan


def test_offset_is_the_inbox_time_at_the_runs_epoch() -> None:
    assert inbox_offset({"Epoch": 1000.0, "TimeScale": 60}, epoch=1010.0, time_scale=60.0) == 600.0


@pytest.mark.parametrize(("info", "words"), [
    ({"Epoch": 1000.0, "TimeScale": 30}, "--time-scale 60"),
    ({"Version": "v1.20"}, "does not report its clock"),       # a Mailpit
])
def test_an_inbox_clock_that_cannot_carry_the_windows_is_refused(info: dict, words: str) -> None:
    with pytest.raises(TargetInboxError, match=words.replace("-", r"\-")):
        inbox_offset(info, epoch=1010.0, time_scale=60.0)


def test_shift_moves_windows_and_leaves_the_plan_alone() -> None:
    plan = {"seed": 3, "rules": [{"kind": "outage", "start": 60, "end": 120}, {"kind": "spam", "probability": 0.5}]}
    shifted = shift_plan(plan, 600.0)
    assert shifted["rules"] == [{"kind": "outage", "start": 660.0, "end": 720.0}, {"kind": "spam", "probability": 0.5}]
    assert plan["rules"][0]["start"] == 60                    # the scenario's own plan is unchanged


def test_restamp_drops_earlier_runs_and_uses_the_runs_axis() -> None:
    lines = [{"src": "inbox", "event": "delivered", "wall": 999.0, "st": 5.0},
             {"src": "inbox", "event": "delayed", "wall": 1012.0, "st": 720.0, "until_wall": 1013.0,
              "until_st": 780.0}]
    out = restamp(lines, epoch=1010.0, time_scale=60.0, since_wall=1000.0)
    assert out == [{"src": "inbox", "event": "delayed", "wall": 1012.0, "st": 120.0, "until_wall": 1013.0,
                    "until_st": 180.0}]


def test_a_refused_fault_plan_says_the_inboxs_own_words() -> None:
    """PUT /api/v1/faults through the shared client: the inbox's reason (which rule, which field) reaches
    the user's one line, where it used to be only `HTTP Error 400: Bad Request`."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mfa_harness.errors import SetupError
    from mfa_harness.scenarios.targets import put_faults

    seen: list[bytes] = []

    class Inbox(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            ok = b'"kind"' in seen[-1]
            body = seen[-1] if ok else b"PUT /api/v1/faults: rule 0: 'kind' is required"
            self.send_response(200 if ok else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Inbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        plan = {"seed": 7, "rules": [{"kind": "drop", "start": 5.0}], "other": True}
        put_faults(url, plan)
        assert json.loads(seen[-1]) == plan                                      # the whole plan, as it was
        with pytest.raises(SetupError) as err:
            put_faults(url, {"rules": [{"start": 5.0}]})
        assert str(err.value) == (f"cannot set the inbox fault plan at {url}: answered 400 "
                                  "(PUT /api/v1/faults: rule 0: 'kind' is required)")
        assert err.value.field("status") == 400 and err.value.field("url") == url
    finally:
        server.shutdown()
        server.server_close()
