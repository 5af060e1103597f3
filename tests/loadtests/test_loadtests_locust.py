"""The real `locust` headless against the real portal and inbox: personas, history, metrics, exit codes.

Every load run costs seconds of wall time, so there are few: one with every persona, two short
focused ones for personas whose contract needs a fault (spam, held team mail) to show, and the
distributed runs; plus a few runs that must stop at start-up.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from loadtests_stack import LOCUSTFILE, REPO, Stack, free_port

from mfa_harness.harness_http import InboxApi, PortalHarness

ALL = ("careful=1,hasty=1,reseller=1,affiliate=1,patient=1,impatient=1,spam-checker=1,slow-typer=1,"
       "typo-prone=1,second-tab=1,cookie-less=1,resend-stormer=1,code-guesser=1,forgot-password=1,direct-url=1,"
       "double-submit=1")


def by_persona(history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in history:
        out[line["persona"]].append(line)
    return out


def completions(lines: list[dict[str, Any]], op: str, type_: str) -> list[dict[str, Any]]:
    return [line["value"] for line in lines if line["op"] == op and line["type"] == type_]


def check_well_formed(history: list[dict[str, Any]]) -> None:
    """Every invoke has exactly one completion for the same proc and op, in order."""
    pending: dict[tuple[str, str], dict[str, Any]] = {}
    for line in history:
        assert line["src"] == "client" and isinstance(line["wall"], float) and isinstance(line["st"], float)
        if line["op"] in ("flow", "loop"):
            assert line["type"] in ("ok", "fail", "info")
            continue
        key = (line["proc"], line["op"])
        if line["type"] == "invoke":
            assert key not in pending, f"second invoke before completion: {line}"
            pending[key] = line
        else:
            assert line["type"] in ("ok", "fail", "info"), line
            assert pending.pop(key, None) is not None, f"completion without invoke: {line}"
    assert not pending, f"invokes without completion: {list(pending.values())[:3]}"


def put_faults(inbox_url: str, rules: list[dict[str, Any]]) -> None:
    InboxApi(inbox_url).set_faults(rules, seed=1)


def test_every_persona_records_the_outcome_it_should(stack: Stack) -> None:
    # every email is held 50 scenario seconds: impatient users (35 s) ask again, patient ones (120 s) wait
    put_faults(stack.inbox.url, [{"kind": "delay", "distribution": "fixed", "seconds": 50}])
    run = stack.locust("--threshold", "loops == 0", "--threshold", "http.fail_ratio < 0.01",
                       users=16, run_time=14, personas=ALL)
    assert run.code == 0, run.log[-3000:]
    history = run.history()
    check_well_formed(sorted(history, key=lambda line: line["wall"]))
    p = by_persona(history)
    assert set(p) == set(ALL.replace("=1", "").split(","))
    # one history process per simulated user, plus the double-clicker's second click ("<proc>.2")
    browsers = {line["proc"].split(".")[0] for line in history}
    assert len({line["user"] for line in history}) == len(browsers) == 16
    assert {line["proc"] for line in history} - browsers == {p + ".2" for p in browsers
                                                             if any(x["proc"] == p + ".2" for x in history)}
    double = [x for x in history if x["persona"] == "double-submit" and x["op"] == "verify" and x["type"] == "invoke"]
    assert any(a["proc"] + ".2" == b["proc"] and abs(a["wall"] - b["wall"]) < 1.0 for a in double for b in double), \
        "the double click's two posts are concurrent"

    # careful agency member: in with their own code, which the inbox held back 50 scenario seconds
    assert completions(p["careful"], "flow", "ok")
    for v in completions(p["careful"], "read_code", "ok"):
        assert v["ref"] and v["code"] and v["delay_s"] >= 0.9 * 50 / stack.time_scale
    # impatient users ask for another code before the delayed one arrives; patient ones do not
    assert completions(p["impatient"], "resend", "ok")
    assert not [line for line in p["patient"] if line["op"] == "resend"] and completions(p["patient"], "flow", "ok")
    # affiliate: in without a code page, ever
    aff = completions(p["affiliate"], "affiliate_login", "ok")
    assert aff and all(v["landed"] == "/affiliate/dashboard" and v["ref"] is None for v in aff)
    assert not [line for line in p["affiliate"] if line["op"] == "read_code"]
    # slow typer past the expiry: refused as expired
    assert {"reason": "expired"}.items() <= completions(p["slow-typer"], "verify", "fail")[0].items()
    assert any(v["outcome"] == "expired" for v in completions(p["slow-typer"], "flow", "fail"))
    # cookie-less browser: stopped by the loop breaker, never looping (past 10 unused codes an
    # hour the portal sends no more: 429, server/README.md "Security budgets")
    blocked = completions(p["cookie-less"], "login", "fail")
    assert blocked and all(v["reason"] in ("cookies_blocked", "rate_limited") for v in blocked)
    assert any(v["reason"] == "cookies_blocked" for v in blocked)
    loops = [line["value"] for line in history if line["op"] == "loop"]
    assert loops and all(v["ended"] == "cookies_blocked" for v in loops)
    # resend stormer: meets 429 with a retry hint
    refused = completions(p["resend-stormer"], "resend", "fail")
    assert refused and all(v["reason"] == "rate_limited" and v["retry_after"] > 0 for v in refused)
    # code guesser: wrong codes, then too many attempts
    guesses = Counter(v["reason"] for v in completions(p["code-guesser"], "verify", "fail"))
    assert guesses["wrong"] >= 1 and guesses["too_many"] >= 1
    # direct URL while pending: sent to the verify page, not served
    direct = completions(p["direct-url"], "access_account", "fail")
    assert direct and all(v["landed"] == "/partner/verify" for v in direct)
    # double submit: the second post of the same code is refused
    assert completions(p["double-submit"], "verify", "fail")
    # forgot password: reset, then in with the new password
    assert completions(p["forgot-password"], "reset_password", "ok")
    assert completions(p["forgot-password"], "flow", "ok")
    # hasty on a shared inbox and second-tab: a code that is not theirs is refused as wrong
    assert any(v["reason"] == "wrong" for v in completions(p["second-tab"], "verify", "fail"))

    summary = run.summary()
    flows = [line for line in history if line["op"] == "flow" and line["type"] in ("ok", "fail")]
    assert summary["flows"] == len(flows)
    assert summary["outcomes"]["cookies_blocked"] == len([v for v in completions(p["cookie-less"], "flow", "fail")
                                                          if v["outcome"] == "cookies_blocked"])
    assert summary["loops"] == 0 and summary["loop_breaker"] == len(loops)
    assert summary["metrics"]["flow"]["count"] == len(flows)
    assert summary["metrics"]["login_ok"]["count"] == sum(1 for f in flows if f["value"]["outcome"] == "ok")
    assert summary["metrics"]["flow"]["p50"] > 0 and summary["metrics"]["code_delivery"]["count"] > 0
    assert summary["metrics"]["code_delivery"]["p50"] >= 45.0                    # scenario seconds
    assert summary["metrics"]["code_wait"]["p50"] >= 45.0 and summary["metrics"]["resends"]["max"] >= 1
    assert all(t["passed"] for t in summary["thresholds"].values()), summary["thresholds"]

    # flow and inbox rows are in Locust's stats, but not in its aggregated (portal) row
    # (Locust rewrites the CSV every second, so it may miss the very last flows)
    with open(run.out / "stats_stats.csv", newline="") as fh:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(fh)}
    assert 0 < int(rows[("FLOW", "login flow")]["Request Count"]) <= len(flows)
    assert ("INBOX", "wait (inbox)") in rows
    portal = sum(int(r["Request Count"]) for (t, n), r in rows.items() if t in ("GET", "POST"))
    assert int(rows[("", "Aggregated")]["Request Count"]) == portal


def by_flow(history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each login flow's lines (double-click second posts included), in wall order."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in sorted(history, key=lambda line: line["wall"]):
        if line["flow"]:
            out[line["flow"]].append(line)
    return out


def ended(lines: list[dict[str, Any]]) -> str | None:
    """A flow's outcome, or None when the end of the run cut it short (an `info` flow line, or none)."""
    end = [line for line in lines if line["op"] == "flow"]
    return end[-1]["value"]["outcome"] if end and end[-1]["type"] in ("ok", "fail") else None


def steps(lines: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """A flow's completions as (op, type, value), in order."""
    return [(line["op"], line["type"], line["value"]) for line in lines if line["type"] != "invoke"]


def test_spam_checker_finds_the_codes_the_inbox_put_in_spam(stack: Stack) -> None:
    """Half the mail goes to spam: the spam checker waits its 60 scenario seconds in the inbox,
    then finds the code in the spam folder and gets in; a code in the inbox is taken at once."""
    put_faults(stack.inbox.url, [{"kind": "spam", "probability": 0.5}])
    run = stack.locust(users=2, run_time=6, personas="spam-checker=1", name="spam", timeout=120.0)
    assert run.code == 0, run.log[-3000:]
    history = run.history()
    check_well_formed(sorted(history, key=lambda line: line["wall"]))
    spammed = {d["message_id"] for d in InboxApi(stack.inbox.url).deliveries() if d["event"] == "spam"}
    found_in: Counter[str] = Counter()
    for flow, lines in by_flow(history).items():
        if ended(lines) is None:
            continue
        assert ended(lines) == "ok", (flow, steps(lines))
        reads = [line for line in lines if line["op"] == "read_code"]
        looked = [line["value"]["folder"] for line in reads if line["type"] == "invoke"]
        mail = [line["value"] for line in reads if line["type"] == "ok"]
        assert len(mail) == 1, (flow, steps(lines))
        verify = [(t, v) for op, t, v in steps(lines) if op == "verify"]
        assert verify and verify[0][0] == "ok", (flow, steps(lines))
        assert [line["value"]["code"] for line in lines if line["op"] == "verify" and line["type"] == "invoke"] \
            == [mail[0]["code"]]
        found_in[mail[0]["folder"]] += 1
        if mail[0]["folder"] == "spam":
            # first the inbox, for the whole 60 scenario seconds, and only then the spam folder
            assert mail[0]["message_id"] in spammed
            assert looked == ["inbox", "any"], (flow, steps(lines))
            timed_out = [line for line in reads if line["type"] == "fail"]
            assert [line["value"]["reason"] for line in timed_out] == ["timeout"]
            assert timed_out[0]["st"] - reads[0]["st"] >= 0.9 * 60, (flow, steps(lines))
        else:
            assert mail[0]["folder"] == "inbox" and mail[0]["message_id"] not in spammed
            assert looked == ["inbox"], (flow, steps(lines))
    assert found_in["spam"] >= 1, found_in


def test_typo_prone_hasty_and_reseller_keep_to_their_contracts(stack: Stack) -> None:
    """Typo-prone: a wrong code, then the right one, in the same flow. Hasty (two teammates on a shared
    inbox whose mail is held 40 scenario seconds, so their logins overlap): the newest code, which is
    refused as wrong when it is the teammate's and accepted when it is their own. Reseller: their
    own address, their own code, every time."""
    put_faults(stack.inbox.url, [{"kind": "delay", "to": "mfa-codes@*", "distribution": "fixed", "seconds": 40}])
    run = stack.locust(users=6, run_time=8, personas="typo-prone=1,hasty=1,reseller=1", name="contracts",
                       timeout=120.0)
    assert run.code == 0, run.log[-3000:]
    history = run.history()
    check_well_formed(sorted(history, key=lambda line: line["wall"]))
    accounts = {a["username"]: a for a in PortalHarness(stack.portal.url).accounts()}
    flows = by_flow(history)
    persona_of = {flow: lines[0]["persona"] for flow, lines in flows.items()}
    login_ref = {flow: v["ref"] for flow, lines in flows.items()
                 for op, t, v in steps(lines) if op == "login" and t == "ok"}
    ref_owner = {ref: lines[0]["user"] for flow, lines in flows.items() for ref in [login_ref.get(flow)] if ref}

    # typo-prone: a mistyped code (one digit off) refused as wrong, then the code typed right: in
    typos = 0
    for flow in (f for f, p in persona_of.items() if p == "typo-prone"):
        lines = flows[flow]
        if ended(lines) is None:
            continue
        assert ended(lines) == "ok", (flow, steps(lines))
        code = next(v["code"] for op, t, v in steps(lines) if op == "read_code" and t == "ok")
        typed = [line["value"]["code"] for line in lines if line["op"] == "verify" and line["type"] == "invoke"]
        answers = [(t, v.get("reason")) for op, t, v in steps(lines) if op == "verify"]
        if len(typed) == 2:
            typos += 1
            assert answers == [("fail", "wrong"), ("ok", None)], (flow, steps(lines))
            assert typed[1] == code and sum(a != b for a, b in zip(typed[0], code, strict=True)) == 1, typed
        else:
            assert typed == [code] and answers == [("ok", None)], (flow, steps(lines))
    assert typos >= 1

    # hasty: reads the shared inbox without its reference and submits whatever code came first
    hasty_ok = teammates_codes = 0
    hasty_users = {line["user"] for line in history if line["persona"] == "hasty"}
    assert len(hasty_users) == 2 and len({accounts[u]["notification_email"] for u in hasty_users}) == 1
    for flow in (f for f, p in persona_of.items() if p == "hasty"):
        lines = flows[flow]
        own = login_ref.get(flow)
        done = steps(lines)
        for line in lines:
            if line["op"] == "read_code" and line["type"] == "invoke":
                assert own and own not in line["value"]["query"], line
        for i, (op, t, v) in enumerate(done):
            if op != "verify" or t == "info":
                continue
            read = done[i - 1]
            assert read[:2] == ("read_code", "ok"), (flow, done)
            if read[2]["ref"] == own:
                assert t == "ok", (flow, done)
            else:                                               # a teammate's code: refused
                teammate = ref_owner.get(read[2]["ref"])
                assert (t, v["reason"]) == ("fail", "wrong"), (flow, done)
                assert teammate in hasty_users and teammate != lines[0]["user"], (flow, done)
                teammates_codes += 1
        # a refused code sends them back to the inbox for the next one, three codes at most
        assert ended(lines) in (None, "ok", "wrong_code"), (flow, done)
        if ended(lines) == "wrong_code":
            assert [(t, v.get("reason")) for op, t, v in done if op == "verify"] == [("fail", "wrong")] * 3, \
                (flow, done)
        hasty_ok += ended(lines) == "ok"
    assert hasty_ok >= 1
    assert teammates_codes >= 1

    # reseller: an address no other account shares, read by reference: always their own code, always in
    resellers = {line["user"] for line in history if line["persona"] == "reseller"}
    addresses = Counter(a["notification_email"] for a in accounts.values())
    assert resellers and all(accounts[u]["program"] == "reseller" for u in resellers)
    assert all(addresses[accounts[u]["notification_email"]] == 1 for u in resellers)
    reseller_ok = 0
    for flow in (f for f, p in persona_of.items() if p == "reseller"):
        lines = flows[flow]
        own, address = login_ref.get(flow), accounts[lines[0]["user"]]["notification_email"]
        for line in lines:
            if line["op"] == "read_code" and line["type"] == "invoke":
                assert f"to:{address}" in line["value"]["query"] and own in line["value"]["query"], line
            if line["op"] == "read_code" and line["type"] == "ok":
                assert line["value"]["ref"] == own, line
        if ended(lines) is not None:
            assert ended(lines) == "ok" and [(op, t) for op, t, _ in steps(lines) if op == "verify"] \
                == [("verify", "ok")], (flow, steps(lines))
            reseller_ok += 1
    assert reseller_ok >= 1


def test_two_worker_processes_write_one_merged_history_and_a_missed_threshold_exits_3(stack: Stack) -> None:
    run = stack.locust("--processes", "2", "--threshold", "flow.success_rate > 1", "--threshold", "loops == 0",
                       "--arrival-rate", "3", users=4, run_time=6, personas="careful=1,affiliate=1",
                       name="distributed")
    assert run.code == 3, run.log[-3000:]
    history = run.history()
    check_well_formed(sorted(history, key=lambda line: line["wall"]))
    workers = {line["proc"].split("-")[0] for line in history}
    assert workers == {"0", "1"}
    users_of = defaultdict(set)                                    # no account is used by two simulated users
    for line in history:
        users_of[line["user"]].add(line["proc"])
    assert all(len(procs) == 1 for procs in users_of.values()), users_of
    walls = [line["wall"] for line in history]
    assert walls == sorted(walls)                                  # the master writes one file, in wall order
    for line in history:                                           # one scenario time axis for both workers
        assert line["st"] == pytest.approx((line["wall"] - stack.epoch) * stack.time_scale, abs=0.01)
    summary = run.summary()
    assert len(summary["workers_reported"]) == 2
    flows = [line for line in history if line["op"] == "flow" and line["type"] in ("ok", "fail")]
    assert summary["flows"] == len(flows) > 0
    assert summary["history_lines"] == len(history)
    t = summary["thresholds"]
    assert t["flow.success_rate > 1"]["passed"] is False and t["loops == 0"]["passed"] is True
    assert "threshold missed: flow.success_rate > 1" in run.log
    # open model: 3 arrivals per scenario second at scale 60 is far more than 4 users can take
    assert summary["arrivals"]["started"] >= len(flows) > 0
    assert summary["arrivals"]["dropped"] > 0


def child_pids(pid: int) -> list[int]:
    """The live (not zombie) children of a process, from /proc (Linux)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    return [c for c in out if not exited(c)]


def exited(pid: int) -> bool:
    """The process is gone or a zombie (exited, not yet reaped by its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


class Watch:
    """What the portal and the inbox have seen so far: the portal's finished logins per account,
    and the code emails the inbox is still holding back (their recipients are waiting for them)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []

    def poll(self) -> None:
        after = self.events[-1]["id"] if self.events else 0
        self.events += PortalHarness(self.stack.portal.url).events(after, limit=10000)
        after = self.deliveries[-1]["seq_event"] if self.deliveries else 0
        self.deliveries += InboxApi(self.stack.inbox.url).deliveries(after)

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    def held_for(self, margin: float) -> set[Any]:
        """Partner ids whose code email stays held at least `margin` more wall seconds."""
        partner = {e["message_id"].strip("<>"): e["partner_id"] for e in self.of("code_issued")}
        held = {d["message_id"]: d["until_wall"] for d in self.deliveries if d["event"] == "delayed"}
        for d in self.deliveries:
            if d["event"] == "delivered":
                held.pop(d["message_id"], None)
        return {partner[m] for m, until in held.items() if m in partner and until > time.time() + margin}


def test_a_single_process_run_puts_its_history_on_disk_while_it_runs(stack: Stack) -> None:
    """A live reader (the runner's progress view in target mode) must see a flow's lines within
    about a second, not when 8 KB have piled up: a lone slow typer reads its code, then takes
    more than 5 wall seconds to type it; the `read_code` line must be on disk before `verify`."""
    running = stack.start_locust(users=1, run_time=30, personas="slow-typer=1", name="live")
    path = running.out / "history.jsonl"
    seen: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and running.popen.poll() is None:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            seen = [json.loads(line) for line in text.splitlines() if line.endswith("}")]
            if any(s["op"] == "read_code" and s["type"] == "ok" for s in seen):
                break
            time.sleep(0.2)
        assert any(s["op"] == "read_code" and s["type"] == "ok" for s in seen), \
            f"no read_code on disk while the run was going: {[(s['op'], s['type']) for s in seen]}"
        assert not any(s["op"] == "verify" for s in seen)     # still typing: the line came early
    finally:
        running.kill()


def test_a_worker_stopped_mid_run_loses_no_history(stack: Stack) -> None:
    """SIGTERM to one of two worker processes partway through a run: its users stop (an operation in
    progress ends as `info`), it sends its last lines, and the merged history holds every login the
    portal saw from its users; the other worker carries on and the run ends normally."""
    # every code is held 120 scenario seconds (2 s wall): at any moment most users wait for one
    put_faults(stack.inbox.url, [{"kind": "delay", "distribution": "fixed", "seconds": 120}])
    accounts = PortalHarness(stack.portal.url).accounts()
    # the accounts each worker takes: positions rank, rank + 2, ... (loadtests/accounts.py)
    rank_of = {a["partner_id"]: i % 2 for i, a in enumerate(accounts)}
    running = stack.start_locust("--processes", "2", users=8, run_time=10, personas="careful=1", name="worker-stop")
    watch = Watch(stack)
    try:
        # stop a worker once each worker's users have got in three times and each has a user waiting
        # for a held code (so the stop cuts an operation short); which of the two is which rank does
        # not matter
        deadline = time.time() + 60
        while True:
            assert running.popen.poll() is None and time.time() < deadline, \
                f"the run never got going; log: {(running.out / 'locust.log').read_text(errors='replace')[-3000:]}"
            watch.poll()
            logged_in = Counter(rank_of[e["partner_id"]] for e in watch.of("verify_ok"))
            waiting = {rank_of[p] for p in watch.held_for(margin=0.5)}
            workers = child_pids(running.pid)
            if min(logged_in[0], logged_in[1]) >= 3 and waiting == {0, 1} and len(workers) == 2:
                break
            time.sleep(0.2)
        victim = workers[0]
        stopped_at = time.time()
        os.kill(victim, signal.SIGTERM)
        while not exited(victim):                         # the worker exits while the run goes on
            assert time.time() < stopped_at + 30, "the worker did not exit on SIGTERM"
            time.sleep(0.1)
        assert running.popen.poll() is None, "the master ended with the worker"
    except BaseException:
        running.kill()
        raise
    run = running.wait(timeout=120)
    assert run.code == 0, run.log[-3000:]
    text = (run.out / "history.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n")
    history = run.history()                               # every line is one JSON object
    check_well_formed(history)
    watch.poll()

    last = {w: max(line["wall"] for line in history if line["proc"].split("-")[0] == w) for w in ("0", "1")}
    assert len(last) == 2
    gone, alive = sorted(last, key=last.__getitem__)
    assert last[alive] > last[gone] + 1.0, last          # the other worker went on to the end of the run
    mine = [line for line in history if line["proc"].split("-")[0] == gone]
    # flows the stopped worker finished, and the operations it cut short when told to stop: those
    # lines were written after the SIGTERM, so they can only have come with its last message
    assert [line for line in mine if line["op"] == "flow" and line["type"] == "ok"]
    cut = [line for line in mine if line["type"] == "info" and line["value"].get("reason") == "stopped"]
    assert cut and all(line["wall"] >= stopped_at for line in cut), mine[-10:]
    assert {line["proc"] for line in cut} <= {line["proc"] for line in mine if line["op"] == "flow"
                                              and line["type"] == "info" and line["wall"] >= stopped_at}

    # against what the portal saw: every challenge it created is a login in the history (its reference
    # recorded, or the login cut short by a stop), and every code it accepted is a verify there
    logins = {line["value"]["ref"] for line in history if line["op"] == "login" and line["type"] == "ok"}
    unanswered = Counter(line["user"] for line in history if line["op"] == "login" and line["type"] == "info")
    missing = Counter(e["username"] for e in watch.of("challenge_created") if e["ref"] not in logins)
    assert all(n <= unanswered[u] for u, n in missing.items()), (missing, unanswered)
    ref = {e["challenge_id"]: e["ref"] for e in watch.of("challenge_created")}
    verified = [ref[e["challenge_id"]] for e in watch.of("verify_ok")]
    answer: dict[str, str] = {}
    pending: dict[str, str] = {}
    for line in history:
        if line["op"] == "verify" and line["type"] == "invoke":
            pending[line["proc"]] = line["value"]["ref"]
        elif line["op"] == "verify":
            answer.setdefault(pending.pop(line["proc"]), line["type"])
    assert all(answer.get(r) in ("ok", "info") for r in verified), [r for r in verified if answer.get(r) != "ok"]
    procs_of: defaultdict[str, set[str]] = defaultdict(set)   # users taken over by the other worker: new accounts
    for line in history:
        procs_of[line["user"]].add(line["proc"].split(".")[0])
    assert all(len(procs) == 1 for procs in procs_of.values()), procs_of

    summary = run.summary()
    assert len(summary["workers_reported"]) == 2          # the stopped worker's final message, and the other's
    assert summary["history_lines"] == len(history)
    assert summary["flows"] == len([line for line in history if line["op"] == "flow" and line["type"] != "info"])


def test_planted_bugs_show_up_in_the_client_history(make_stack: Any) -> None:
    """Against a broken portal the same personas record what went wrong, and `loops == 0` fails."""
    stack = make_stack("loop-after-verify", "affiliate-challenged", "mfa-bypass")
    accounts = PortalHarness(stack.portal.url).accounts()
    accounts_csv = stack.workdir / "accounts.csv"                  # this run reads its accounts from a CSV file
    with open(accounts_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["partner_id", "program", "username", "password", "notification_email", "team", "locked"])
        writer.writeheader()
        writer.writerows(accounts)
    run = stack.locust("--threshold", "loops == 0", "--accounts-file", str(accounts_csv), users=3, run_time=6,
                       personas="careful=1,affiliate=1,direct-url=1", name="bugs")
    assert run.code == 3, run.log[-3000:]
    history = run.history()
    check_well_formed(sorted(history, key=lambda line: line["wall"]))
    p = by_persona(history)
    # sent back to sign-in after each accepted code: the first time a bounce (sign in again), then a loop
    looped = completions(p["careful"], "verify", "fail")
    assert looped and all(v["reason"] in ("bounced", "loop") and v["chain"][-1].startswith("/partner/login")
                          for v in looped)
    assert [v["reason"] for v in looped][:2] == ["bounced", "loop"]
    assert any(line["value"]["ended"] == "loop" for line in history if line["op"] == "loop")
    seen = completions(p["affiliate"], "affiliate_login", "ok")
    assert seen and all(v["landed"] == "/partner/verify" and v["ref"] for v in seen)
    served = completions(p["direct-url"], "access_account", "ok")
    assert any(v["mfa"] is False for v in served)
    summary = run.summary()
    assert summary["loops"] > 0 and summary["outcomes"]["loop"] > 0
    assert summary["thresholds"]["loops == 0"]["passed"] is False
    assert summary["aborted_by"] is None


def test_abort_on_fail_stops_a_distributed_run_at_the_first_missed_count(stack: Stack) -> None:
    """A cookie-less browser's first flow breaks `outcome.cookies_blocked == 0`: the long run stops early."""
    run = stack.locust("--abort-on-fail", "--processes", "2", "--threshold", "outcome.cookies_blocked == 0",
                       users=2, run_time=600, personas="cookie-less=1", name="abort", timeout=120.0)
    assert run.code == 3, run.log[-3000:]
    summary = run.summary()
    assert summary["aborted_by"] == "outcome.cookies_blocked == 0"
    assert summary["outcomes"]["cookies_blocked"] >= 1 and not summary["thresholds_passed"]
    assert "stopping the test (--abort-on-fail)" in run.log


@pytest.mark.parametrize(("args", "message"), [
    (["--personas", "careful=1,nobody=2"], "unknown persona 'nobody'"),
    (["--personas", "careful=1", "--threshold", "flow.p95 < 8"], "give a unit"),
    (["--personas", "careful=1", "--target-profile", "/nonexistent/profile.toml"], "cannot read target profile"),
    (["--personas", "careful=1", "--time-scale", "0"], "argument --time-scale: must be > 0"),
    (["--personas", "careful=1", "--processes", "2", "--master-bind-host", "127.0.0.1", "--threshold", "loops < 1s"],
     "loops is not a duration"),                                   # refused before any worker is forked
])
def test_bad_options_stop_locust_with_a_clear_message(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "1", "-t", "1s",
                           "--host", "http://127.0.0.1:9", "--inbox-url", "http://127.0.0.1:9", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_accounts_stop_a_distributed_run_without_leaving_workers_behind() -> None:
    port = free_port()
    popen = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "2", "-t", "30s",
         "--host", "http://127.0.0.1:9", "--inbox-url", "http://127.0.0.1:9", "--personas", "careful=1",
         "--processes", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--master-host", "127.0.0.1", "--master-port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True)
    try:
        _, err = popen.communicate(timeout=120)
        assert popen.returncode == 2, err[-2000:]
        # refused before any load by the preflight (the portal does not answer), in one line
        assert "mfa-harness: GET http://127.0.0.1:9/_harness/clock: no answer" in err, err[-2000:]
        deadline = time.time() + 30
        while time.time() < deadline:                      # the forked workers are gone too
            try:
                os.killpg(popen.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("worker processes outlived their master")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        if popen.poll() is None:
            popen.wait(timeout=30)
