"""Integration: every fault kind as a sender sees it over SMTP, and as the history records it."""

from __future__ import annotations

import smtplib
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from fake_smtp_helpers import InboxProcess


def search(inbox: InboxProcess, query: str, folder: str = "any") -> list[dict[str, Any]]:
    qs = urllib.parse.urlencode({"query": query, "folder": folder})
    return inbox.get_json(f"/api/v1/search?{qs}")["messages"]


def events(inbox: InboxProcess, after: int, kind: str | None = None) -> list[dict[str, Any]]:
    lines = inbox.deliveries(after)
    return [line for line in lines if kind is None or line["event"] == kind]


def st_now(inbox: InboxProcess) -> float:
    return float(inbox.get_json("/api/v1/info")["ScenarioTime"])


def test_drop_accepts_and_never_delivers(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("drop")
    inbox.put_faults([{"kind": "drop", "to": to}])
    before = inbox.last_event()
    mid = inbox.send(to)  # no exception: 250
    assert [e["event"] for e in events(inbox, before)] == ["received", "dropped"]
    dropped = events(inbox, before, "dropped")[0]
    assert dropped["rule"] == 0 and dropped["message_id"] == mid and dropped["code"] == "123456"
    assert search(inbox, f"to:{to}") == []
    assert inbox.wait(f"to:{to}", timeout=0.3, folder="any").status == 204


def test_spam_routes_to_spam_folder(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("spam")
    inbox.put_faults([{"kind": "spam", "to": "spam.*@example.com", "probability": 1}])
    before = inbox.last_event()
    inbox.send(to)
    assert [e["event"] for e in events(inbox, before)] == ["received", "spam", "delivered"]
    delivered = events(inbox, before, "delivered")[0]
    assert delivered["folder"] == "spam" and events(inbox, before, "spam")[0]["rule"] == 0
    assert inbox.wait(f"to:{to}", timeout=0.3, folder="inbox").status == 204
    r = inbox.wait(f"to:{to}", timeout=5, folder="spam")
    assert r.status == 200 and r.json()["Folder"] == "spam"
    assert search(inbox, f"to:{to}", folder="inbox") == []
    assert len(search(inbox, f"to:{to} in:spam")) == 1


@pytest.mark.parametrize(("kind", "stage", "code"), [
    ("tempfail", "connect", 421), ("tempfail", "mail", 451), ("tempfail", "rcpt", 451),
    ("tempfail", "data", 451), ("permfail", "rcpt", 550), ("permfail", "data", 554),
    ("permfail", "mail", 550), ("tempfail", "rcpt", 421),
])
def test_tempfail_and_permfail_at_each_stage(inbox: InboxProcess, addr: Callable[[str], str], kind: str,
                                             stage: str, code: int) -> None:
    to = addr(f"{kind}-{stage}")
    rule: dict[str, Any] = {"kind": kind, "stage": stage, "code": code}
    if stage in ("rcpt", "data"):
        rule["to"] = to
    inbox.put_faults([{"kind": "drop", "to": "nobody@nowhere"}, rule])
    before = inbox.last_event()
    if stage == "connect":
        with pytest.raises(smtplib.SMTPConnectError) as err:
            inbox.smtp()
        assert err.value.smtp_code == code
    else:
        with inbox.smtp() as s:
            s.ehlo()
            c, _ = s.mail("p@example.org")
            if stage == "mail":
                assert c == code
            else:
                c, _ = s.rcpt(to)
                if stage == "rcpt":
                    assert c == code
                else:
                    assert c == 250
                    c, _ = s.data(f"To: {to}\r\nSubject: s\r\n\r\ncode: 123123\r\n".encode())
                    assert c == code
    refused = events(inbox, before, "refused")
    assert len(refused) == 1
    line = refused[0]
    assert (line["stage"], line["smtp_code"], line["fault"], line["rule"]) == (stage, code, kind, 1)
    if stage == "data":
        assert line["code"] == "123123" and line["recipients"] == [to]
    if stage == "rcpt":
        assert line["recipients"] == [to]
    assert events(inbox, before, "received") == []
    inbox.put_faults([])
    inbox.send(to)  # the sender's retry gets through once the fault is gone
    assert len(search(inbox, f"to:{to}")) == 1


def test_tempfail_within_a_window_only(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("window")
    now = st_now(inbox)
    inbox.put_faults([{"kind": "tempfail", "stage": "rcpt", "start": now + 10_000, "end": now + 20_000}])
    inbox.send(to)  # outside the window: accepted
    inbox.put_faults([{"kind": "tempfail", "stage": "rcpt", "start": now - 1, "end": now + 10_000}])
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        inbox.send(to)


def test_outage_refuses_connections(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    now = st_now(inbox)
    inbox.put_faults([{"kind": "outage", "start": now - 1, "end": now + 10_000}])
    before = inbox.last_event()
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        inbox.send(addr("outage"))
    line = events(inbox, before, "refused")[0]
    assert (line["stage"], line["fault"], line["rule"], line["smtp_code"]) == ("connect", "outage", 0, None)
    assert inbox.get("/livez").status == 200  # HTTP keeps serving during an SMTP outage
    inbox.put_faults([])
    inbox.send(addr("outage"))


def test_rate_limit_per_recipient(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to, other = addr("rl"), addr("rl-other")
    inbox.put_faults([{"kind": "rate-limit", "max": 2, "per": 100_000, "scope": "recipient"}])
    before = inbox.last_event()
    inbox.send(to)
    inbox.send(to)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        inbox.send(to)
    assert err.value.recipients[to][0] == 421
    inbox.send(other)
    refused = events(inbox, before, "refused")
    assert len(refused) == 1 and refused[0]["fault"] == "rate-limit" and refused[0]["rule"] == 0
    assert len(search(inbox, f"to:{to}")) == 2


def test_rate_limit_overall(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    inbox.put_faults([{"kind": "rate-limit", "max": 1, "per": 100_000, "scope": "overall"}])
    inbox.send(addr("rlo"))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        inbox.send(addr("rlo"))


def test_duplicate_delivers_twice(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("dup")
    inbox.put_faults([{"kind": "duplicate", "probability": 1.0, "to": to}])
    before = inbox.last_event()
    mid = inbox.send(to)
    msgs = search(inbox, f"to:{to}")
    assert len(msgs) == 2 and {m["MessageID"] for m in msgs} == {mid} and msgs[0]["ID"] != msgs[1]["ID"]
    dup = events(inbox, before, "duplicated")[0]
    assert dup["seq"] == max(m["Seq"] for m in msgs) and dup["rule"] == 0
    assert len(events(inbox, before, "delivered")) == 2


def test_delay_fixed_in_scenario_time(inbox_factory: Callable[..., InboxProcess],
                                      addr: Callable[[str], str]) -> None:
    fast = inbox_factory("--time-scale", "100")
    to = addr("delay")
    fast.put_faults([{"kind": "delay", "distribution": "fixed", "seconds": 150}])
    before = fast.last_event()
    fast.send(to)
    delayed = events(fast, before, "delayed")[0]
    assert delayed["rule"] == 0
    assert delayed["until_st"] - delayed["st"] == pytest.approx(150, abs=1)
    assert delayed["until_wall"] - delayed["wall"] == pytest.approx(1.5, abs=0.01)
    assert fast.get_json("/api/v1/info")["Pending"] == 1
    r = fast.wait(f"to:{to}", timeout=60)
    assert r.status == 200
    m = r.json()
    assert m["Delivered"] >= delayed["until_wall"] - 0.01
    assert m["Delivered"] - m["Received"] >= 1.4
    assert [e["event"] for e in events(fast, before)] == ["received", "delayed", "delivered"]


def test_delay_lognormal_and_uniform_follow_the_plan(inbox_factory: Callable[..., InboxProcess],
                                                     addr: Callable[[str], str]) -> None:
    fast = inbox_factory("--time-scale", "1000")
    fast.put_faults([{"kind": "delay", "distribution": "lognormal", "median": 60, "p95": 120, "to": "ln.*"},
                     {"kind": "delay", "distribution": "uniform", "min": 10, "max": 20}])
    before = fast.last_event()
    for _ in range(5):
        fast.send(addr("ln"))
        fast.send(addr("un"))
    delayed = events(fast, before, "delayed")
    ln = [d["until_st"] - d["st"] for d in delayed if d["rule"] == 0]
    un = [d["until_st"] - d["st"] for d in delayed if d["rule"] == 1]
    assert len(ln) == 5 and len(un) == 5
    assert all(0 < x < 2000 for x in ln) and len(set(round(x, 3) for x in ln)) > 1
    assert all(9.9 <= x <= 20.1 for x in un)


def test_reorder_within_a_window(inbox_factory: Callable[..., InboxProcess], addr: Callable[[str], str]) -> None:
    fast = inbox_factory("--time-scale", "10")
    to = addr("reorder")
    fast.put_faults([{"kind": "reorder", "window": 30}], seed=3)
    before = fast.last_event()
    with fast.smtp() as s:
        for i in range(4):
            s.sendmail("p@example.org", [to], f"To: {to}\r\nSubject: r{i}\r\n\r\nbody {i}\r\n".encode())
    assert search(fast, f"to:{to}") == []  # held in the reorder buffer
    assert fast.wait(f"to:{to} subject:r3", timeout=60).status == 200
    msgs = sorted(search(fast, f"to:{to}"), key=lambda m: m["Seq"])
    assert len(msgs) == 4
    assert [m["Subject"] for m in msgs] != ["r0", "r1", "r2", "r3"]
    reordered = events(fast, before, "reordered")
    assert len(reordered) == 4 and all(e["rule"] == 0 and e["held"] == 4 for e in reordered)


def test_faults_file_and_seed_make_runs_reproducible(inbox_factory: Callable[..., InboxProcess],
                                                     tmp_path: Any) -> None:
    plan = tmp_path / "faults.toml"
    plan.write_text('seed = 11\n\n[[rules]]\nkind = "drop"\nprobability = 0.5\n')
    outcomes = []
    for _ in range(2):
        p = inbox_factory("--faults", str(plan))
        assert p.get_json("/api/v1/faults")["seed"] == 11
        for i in range(16):
            p.send(f"seed{i}@example.com")
        outcomes.append([e["recipients"][0] for e in events(p, 0, "dropped")])
    assert outcomes[0] == outcomes[1]
    assert 0 < len(outcomes[0]) < 16
