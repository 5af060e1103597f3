"""The web UI's "MFA" tab: the cached view on its own, then the real `locust` with its web UI.

The unit tests drive `LiveView` with encoded client lines, a fake clock and a fake portal, so
they show what the tab computes and when the checker runs (never per request). The end-to-end
test starts the real portal and inbox, runs Locust with its web UI on a free loopback port and
reads the tab over HTTP while the test runs and after it stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from loadtests_stack import LOCUSTFILE, REPO, Stack, free_port

from mfa_harness.checker import INVARIANTS
from mfa_harness.harness_http import HttpError
from mfa_harness.loadtests import webui_live
from mfa_harness.loadtests.metrics import HISTOGRAMS, OUTCOMES
from mfa_harness.loadtests.thresholds import parse_all
from mfa_harness.loadtests.webui_rows import COLUMNS, sparkline

STATUSES = {"valid", "invalid", "unknown"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Checks:
    """A `run_check` stand-in that counts the checker runs and runs it inline."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, fn: Any, *args: Any) -> Any:
        self.runs += 1
        return fn(*args)


def client_lines(n_flows: int, outcome: str = "ok") -> list[str]:
    out = []
    for i in range(n_flows):
        wall = 1000.0 + i
        common = {"src": "client", "proc": "0-1", "flow": f"0-1-{i}", "persona": "careful", "user": "u"}
        out.append(json.dumps({**common, "wall": wall, "st": wall, "type": "invoke", "op": "login", "value": {}}))
        out.append(json.dumps({**common, "wall": wall + 0.1, "st": wall, "type": "ok", "op": "login",
                               "value": {"ref": "AAAAAAAA", "landed": "/partner/verify", "chain": []}}))
        out.append(json.dumps({**common, "wall": wall + 0.5, "st": wall, "type": "ok" if outcome == "ok" else "fail",
                               "op": "flow", "value": {"outcome": outcome, "duration_s": 0.5 + i / 100.0,
                                                       "duration_st": 30.0, "resends": i % 2, "code_wait_s": 0.2,
                                                       "delivery_delay_s": 0.1}}))
    return out


def make_view(**kw: Any) -> tuple[webui_live.LiveView, Clock, Checks]:
    clock, checks = Clock(), Checks()
    view = webui_live.LiveView(portal_url=kw.pop("portal_url", None), time_scale=lambda: 60.0, run_check=checks,
                               clock=clock, **kw)
    return view, clock, checks


def test_flow_lines_give_percentiles_outcomes_and_loops() -> None:
    view, _, _ = make_view()
    for line in client_lines(10) + client_lines(2, outcome="expired"):
        view.feed(line)
    loop = {"src": "client", "wall": 1.0, "st": 1.0, "type": "info", "proc": "0-2", "flow": "0-2-1",
            "persona": "cookie-less", "user": "v", "op": "loop", "value": {"chain": [], "ended": "loop"}}
    view.feed(json.dumps(loop))
    view.feed(json.dumps({**loop, "value": {"chain": [], "ended": "cookies_blocked"}}))
    view.refresh("running")
    d = view.data
    assert d["flows"] == 12 and d["outcomes"]["ok"] == 10 and d["outcomes"]["expired"] == 2
    assert set(OUTCOMES) <= set(d["outcomes"])
    assert d["loops"] == {"loops": 1, "loop_breaker": 1}
    assert set(d["percentiles"]) == set(HISTOGRAMS)
    login, wall = d["percentiles"]["flow"], d["percentiles"]["flow_wall"]
    assert login["count"] == 12 and login["axis"] == "scenario" and wall["axis"] == "wall"
    assert d["percentiles"]["login_ok"]["count"] == 10                  # successful flows only
    assert wall["max"] == pytest.approx(0.59, abs=0.001)
    assert login["max"] == pytest.approx(0.59 * 60, rel=0.001)           # scenario = wall x time scale
    assert d["percentiles"]["code_delivery"]["p50"] == pytest.approx(6.0, rel=0.001)
    assert d["percentiles"]["resends"]["max"] == 1
    json.dumps(d)                                                         # what /mfa/data serves


def test_checker_runs_only_when_watched_and_at_most_every_few_seconds() -> None:
    view, clock, checks = make_view()
    for line in client_lines(3):
        view.feed(line)
    view.refresh("running")
    assert checks.runs == 0 and view.data["check"]["checked_at"] is None      # nobody looks: no check
    assert view.data["invariants"]["single_use"]["status"] == "not checked yet"
    view.watched()
    assert view.wake.is_set()                                                # the first look refreshes at once
    for _ in range(20):                                                      # requests only read the cache
        view.watched()
        view.rows()
    assert checks.runs == 0
    view.refresh("running")
    assert checks.runs == 1
    clock.now += webui_live.REFRESH_S / 2
    view.refresh("running")
    assert checks.runs == 1                                                  # cached
    clock.now += webui_live.REFRESH_S
    view.refresh("running")
    assert checks.runs == 2
    clock.now += webui_live.WATCH_S + webui_live.REFRESH_S                   # the tab was closed
    view.refresh("running")
    assert checks.runs == 2
    view.refresh("stopped", final=True)                                      # the end of the test: always
    assert checks.runs == 3
    d = view.data
    assert d["check"]["final"] and d["check"]["mode"] == "black box" and d["check"]["lines"] == 9
    assert set(d["invariants"]) == set(INVARIANTS)
    assert {r["status"] for r in d["invariants"].values()} <= STATUSES
    assert not any(r["provisional"] for r in d["invariants"].values())


def portal_events() -> list[dict[str, Any]]:
    """A portal log in which one code was accepted twice (single_use is invalid)."""
    base = {"src": "portal", "st": 1.0}
    return [      # the portal started long before the run (its old traffic is not checked, its policy is)
        {**base, "wall": 10.0, "id": 1, "event": "portal_started", "pid": 1, "bugs": [],
         "policy": {"max_attempts": 3}},
        {**base, "wall": 11.0, "id": 2, "event": "login_failed", "username": "x", "reason": "bad_password"},
        {**base, "wall": 1000.1, "id": 3, "event": "challenge_created", "challenge_id": 1, "ref": "AAAAAAAA",
         "partner_id": 1, "username": "u", "program": "agency", "expires_at": 600},
        {**base, "wall": 1000.2, "id": 4, "event": "code_issued", "challenge_id": 1, "code_id": 1, "partner_id": 1,
         "recipient": "a@example.test", "message_id": "<m1>", "expires_at": 301, "reason": "login"},
        {**base, "wall": 1000.3, "id": 5, "event": "verify_ok", "challenge_id": 1, "code_id": 1, "partner_id": 1,
         "code_expires_at": 301},
        {**base, "wall": 1000.4, "id": 6, "event": "verify_ok", "challenge_id": 1, "code_id": 1, "partner_id": 1,
         "code_expires_at": 301},
    ]


def test_portal_events_make_the_check_white_box_and_are_fetched_incrementally() -> None:
    events, asked = portal_events(), []

    def fetch(url: str, timeout: float) -> bytes:
        asked.append(url)
        after = int(url.split("after=")[1].split("&")[0])
        return "".join(json.dumps(e) + "\n" for e in events if e["id"] > after).encode()

    view, clock, _ = make_view(portal_url="http://127.0.0.1:1/", fetch=fetch)
    view.watched()
    view.refresh("running")
    d = view.data
    assert d["check"]["mode"] == "white box" and d["check"]["portal_events"] == 5     # not the old login
    assert view.policy == {"max_attempts": 3}
    assert d["invariants"]["single_use"]["status"] == "invalid"
    assert d["invariants"]["single_use"]["violations"] == 1 and d["invariants"]["single_use"]["example"]
    assert not d["invariants"]["single_use"]["provisional"]                 # a violation in a prefix stays one
    assert asked == ["http://127.0.0.1:1/_harness/events?after=0&limit=5000"]
    clock.now += webui_live.REFRESH_S
    view.refresh("running")
    assert asked[-1].endswith("after=6&limit=5000") and view.data["check"]["portal_events"] == 5
    rows = view.rows()
    invalid = [r for r in rows if r["section"] == "invariant" and r["item"] == "single_use"]
    assert invalid and invalid[0]["status"] == "invalid" and invalid[0]["count"] == 1


def test_a_portal_without_the_events_endpoint_is_black_box_and_not_hammered() -> None:
    asked: list[str] = []

    def fetch(url: str, timeout: float) -> bytes:
        asked.append(url)
        raise HttpError("GET", url, 404, "Not Found")                  # what http_get raises for a 404

    view, clock, checks = make_view(portal_url="http://127.0.0.1:1", fetch=fetch)
    for line in client_lines(2):
        view.feed(line)
    view.watched()
    for _ in range(3):
        view.refresh("running")
        clock.now += webui_live.REFRESH_S
    assert len(asked) == 1 and checks.runs == 3
    assert view.data["check"]["mode"] == "black box" and view.data["check"]["error"] is None
    clock.now += webui_live.PROBE_EVERY_S
    view.watched()
    view.refresh("running")
    assert len(asked) == 2                                                   # asked again, now and then


def test_http_get_is_the_shared_client_so_a_foreign_portal_is_black_box() -> None:
    """A foreign portal answers /_harness/events with 404; the real fetch says so with an HttpError
    (status and URL as fields), and the tab stays black box."""
    pages = {"/_harness/events": (404, b"no such page")}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            status, body = pages.get(self.path.split("?")[0], (200, b'{"id": 1}\n'))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        with pytest.raises(HttpError) as err:
            webui_live.http_get(base + "/_harness/events?after=0", 5.0)
        assert err.value.status == 404 and err.value.url == base + "/_harness/events?after=0"
        assert webui_live.http_get(base + "/other", 5.0) == b'{"id": 1}\n'
        view, _, _ = make_view(portal_url=base, fetch=webui_live.http_get)
        view.watched()
        view.refresh("running")
        assert view.portal_ok is False and view.data["check"]["mode"] == "black box"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


def test_rows_keep_their_sections_in_order_and_reset_starts_a_new_run() -> None:
    view, _, _ = make_view()
    for line in client_lines(4):
        view.feed(line)
    view.refresh("running", final=True)
    rows = view.rows()
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)      # Locust sorts by `name`
    sections = [r["section"] for r in rows]
    assert sections.index("percentiles") < sections.index("outcome") < sections.index("invariant")
    assert all(set(r) == {"name", *COLUMNS} for r in rows)
    view.reset()
    assert view.data["flows"] == 0 and view.data["check"]["checked_at"] is None


def test_the_tab_keeps_kinds_of_numbers_apart_and_says_why_unknown() -> None:
    view, clock, _ = make_view()
    for line in client_lines(8) + client_lines(2, outcome="expired"):
        view.feed(line)
    view.refresh("running")
    rows = {(r["section"], r["item"]): r for r in view.rows()}
    ok = rows[("outcome", "ok")]
    assert ok["count"] == 8 and ok["counted"] == "flows" and ok["share"] == "80.0%" and ok["status"] == ""
    inv = rows[("invariant", "single_use")]
    assert inv["status"] == "not checked yet" and inv["counted"] == "violations" and "check runs while" in inv["note"]
    view.watched()
    clock.now += webui_live.REFRESH_S
    view.refresh("running")                     # client lines only: black box
    rows = {(r["section"], r["item"]): r for r in view.rows()}
    unknown = [r for (sec, _), r in rows.items() if sec == "invariant" and r["status"] == "unknown"]
    assert unknown and all(r["note"] for r in unknown)
    assert any("black box" in r["note"] for r in unknown)
    assert rows[("check", "black box, live")]["counted"] == "history lines"


def test_an_unknown_names_the_evidence_the_live_check_lacks() -> None:
    """The live check reads client lines (and the portal's events, white box), never the inbox or an
    accounts file: an unknown says what its invariant (registry) would need, or that nothing happened."""
    view, _, _ = make_view()
    for line in client_lines(3):
        view.feed(line)
    view.watched()
    view.refresh("running")                     # client lines only: black box
    why = {name: r["why"] for name, r in view.data["invariants"].items() if r["status"] == "unknown"}
    assert why["single_use"].startswith("no cases yet")        # decided from client lines: none accepted yet
    assert why["recipient"] == ("black box: needs the accounts file and the inbox's deliveries, "
                                "which the live check does not read")


def test_thresholds_show_live_pass_fail_in_the_tab() -> None:
    clock, checks = Clock(), Checks()
    view = webui_live.LiveView(portal_url=None, time_scale=lambda: 60.0, run_check=checks, clock=clock,
                          thresholds=lambda: parse_all(["flows >= 5", "outcome.expired == 0", "login.p95 < 8s"]))
    for line in client_lines(4) + client_lines(1, outcome="expired"):
        view.feed(line)
    view.refresh("running")
    t = view.data["thresholds"]
    assert t["flows >= 5"]["passed"] is True and t["outcome.expired == 0"]["passed"] is False
    rows = {r["item"]: r for r in view.rows() if r["section"] == "threshold"}
    assert rows["flows >= 5"]["status"] == "met" and rows["outcome.expired == 0"]["status"] == "missed"
    assert rows["login.p95 < 8s"]["note"].startswith("now ")


def test_login_and_delivery_p95_over_time() -> None:
    view, clock, _ = make_view()
    for _batch in range(3):
        for line in client_lines(5):
            view.feed(line)
        clock.now += webui_live.REFRESH_S
        view.refresh("running")
    series = view.data["series"]
    assert len(series) == 3 and all(p["flows"] == 5 for p in series)
    assert all(p["login_ok_p95"] is not None and p["code_delivery_p95"] == pytest.approx(6.0) for p in series)
    assert [p["t"] for p in series] == sorted(p["t"] for p in series)
    row = next(r for r in view.rows() if r["section"] == "over time" and r["item"].startswith("login"))
    assert row["p95"] == series[-1]["login_ok_p95"] and row["counted"] == "flows" and row["count"] == 15
    assert sparkline([1.0, 2.0, None, 8.0]) == "▁▂ █"


# ---- the real locust with its web UI ------------------------------------------------------------
def get(url: str, timeout: float = 3.0) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8")


def poll_data(base: str, until: Any, deadline: float, popen: subprocess.Popen) -> dict[str, Any]:
    """Read /mfa/data until `until(data)` holds (bounded by `deadline`); Locust may still be starting."""
    last: dict[str, Any] = {}
    while time.time() < deadline:
        if popen.poll() is not None:
            break
        try:
            last = json.loads(get(base + "/mfa/data")[2])
        except (OSError, ValueError):
            last = last or {}
        if last and until(last):
            return last
        time.sleep(0.3)        # a bounded poll of an HTTP endpoint (the tab itself refreshes every few s)
    raise AssertionError(f"/mfa/data never satisfied the condition; last: {json.dumps(last)[:2000]}")


@pytest.mark.parametrize("processes", [0, 2], ids=["standalone", "master-and-2-workers"])
def test_the_mfa_tab_shows_live_flow_numbers_and_invariants(stack: Stack, processes: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = stack.workdir / "webui"
    out.mkdir()
    distributed: list[str] = []
    if processes:
        # the master computes the tab from its workers' lines; keep its port on loopback and free
        master = str(free_port())
        distributed = ["--processes", str(processes), "--master-bind-host", "127.0.0.1", "--master-bind-port",
                       master, "--master-host", "127.0.0.1", "--master-port", master]
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1", "--web-port", str(port),
            "--autostart", "--autoquit", "5", "-u", "4", "-r", "4", "-t", "8s", "--host", stack.portal.url,
            "--inbox-url", stack.inbox.url, "--time-scale", f"{stack.time_scale:g}", "--epoch", repr(stack.epoch),
            "--personas", "careful=2,hasty=1,affiliate=1", "--history-file", str(out / "history.jsonl"), *distributed]
    with open(out / "locust.log", "wb") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                                 start_new_session=True)
    try:
        started = time.time()
        live = poll_data(base, lambda d: d["state"] == "running" and d["outcomes"]["ok"] >= 3
                         and d["check"]["checked_at"] is not None, started + 25, popen)
        assert live["percentiles"]["flow"]["count"] >= 3
        for name in ("flow", "flow_wall", "login_ok", "code_delivery", "code_wait", "code_wait_wall"):
            row = live["percentiles"][name]
            assert row["count"] > 0 and all(row[k] is not None for k in ("p50", "p90", "p95", "p99", "max")), row
            assert row["p50"] <= row["p90"] <= row["p95"] <= row["p99"] <= row["max"]
        assert live["percentiles"]["resends"]["count"] >= 3
        assert set(OUTCOMES) <= set(live["outcomes"]) and live["flows"] >= 3
        assert set(live["loops"]) == {"loops", "loop_breaker"}
        assert live["check"]["mode"] == "white box" and live["check"]["portal_events"] > 0
        assert set(live["invariants"]) == set(INVARIANTS)
        for name, r in live["invariants"].items():
            assert r["status"] in STATUSES and r["status"] != "invalid", (name, r)   # a correct portal
        assert live["invariants"]["single_use"]["status"] == "valid"

        # the tab is declared on Locust's own page and filled from the JSON its UI polls
        _, ctype, index = get(base + "/")
        args = json.loads(index.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
        assert {"key": "mfa", "title": "MFA"} in args["extended_tabs"]
        assert any(t["key"] == "mfa" for t in args["extended_tables"])
        stats = json.loads(get(base + "/stats/requests")[2])
        rows = next(s["data"] for s in stats["extended_stats"] if s["key"] == "mfa")
        assert {"percentiles", "outcome", "loops", "invariant", "check"} <= {r["section"] for r in rows}
        ok_row = next(r for r in rows if r["section"] == "outcome" and r["item"] == "ok")
        assert ok_row["count"] >= 3
        status, ctype, page = get(base + "/mfa")
        assert status == 200 and ctype.startswith("text/html")
        assert "<title>MFA" in page and "mfa/data" in page and 'id="chart"' in page and 'id="thresholds"' in page
        assert 'src="http' not in page and 'href="http' not in page             # no external assets

        # after the test stopped, the final check covers the whole run
        final = poll_data(base, lambda d: d["check"]["final"], started + 35, popen)
        assert final["state"] == "stopped" and final["flows"] >= live["flows"]
        history = [json.loads(x) for x in (out / "history.jsonl").read_text(encoding="utf-8").splitlines()]
        flows = [x for x in history if x["op"] == "flow" and x["type"] in ("ok", "fail")]
        assert final["flows"] == len(flows)
        assert not any(r["status"] == "invalid" for r in final["invariants"].values()), final["invariants"]
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=20)


def post_form(url: str, form: dict[str, str]) -> dict[str, Any]:
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8"))


def test_the_start_forms_personas_and_thresholds_apply_to_the_run(stack: Stack) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = stack.workdir / "webui-form"
    out.mkdir()
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1", "--web-port", str(port),
            "--host", stack.portal.url, "--inbox-url", stack.inbox.url, "--time-scale", f"{stack.time_scale:g}",
            "--epoch", repr(stack.epoch), "--personas", "careful=1", "--history-file", str(out / "history.jsonl")]
    with open(out / "locust.log", "wb") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                                 start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:                           # the web UI is up when it answers (bounded)
            try:
                get(base + "/mfa/data")
                break
            except OSError:
                assert time.time() < deadline and popen.poll() is None, "Locust's web UI did not come up"
                time.sleep(0.2)
        form = {"user_count": "3", "spawn_rate": "3", "host": stack.portal.url}
        refused = post_form(base + "/swarm", {**form, "personas": "careful=1,nobody=2"})
        assert refused["success"] is False and "unknown persona 'nobody'" in refused["message"]
        started = post_form(base + "/swarm", {**form, "personas": "affiliate=1",
                                              "threshold": "flows >= 1;outcome.expired == 0"})
        assert started["success"] is True, started
        live = poll_data(base, lambda d: d["outcomes"]["ok"] >= 3 and d["series"] and d["thresholds"],
                         time.time() + 40, popen)
        assert live["thresholds"]["flows >= 1"]["passed"] is True
        assert live["thresholds"]["outcome.expired == 0"]["passed"] is True
        stats = json.loads(get(base + "/stats/requests")[2])
        rows = next(s["data"] for s in stats["extended_stats"] if s["key"] == "mfa")
        assert {r["item"]: r["status"] for r in rows if r["section"] == "threshold"} == {
            "flows >= 1": "met", "outcome.expired == 0": "met"}
        assert [r for r in rows if r["section"] == "over time" and r["note"] != "no data yet"]
        post_form(base + "/stop", {})
        history = [json.loads(x) for x in (out / "history.jsonl").read_text(encoding="utf-8").splitlines()]
        personas = {x["persona"] for x in history if x.get("op") == "flow"}
        assert personas == {"affiliate"}, personas          # the form's weights, not the command line's
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=20)
