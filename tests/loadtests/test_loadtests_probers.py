"""The probing personas against the real reference portal and inbox: each keeps to its contract
on a correct portal (and the black-box checker finds nothing), and each records the planted bug
it exists to provoke (and the black-box checker, from client history + inbox + accounts only,
calls the right invariant invalid)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from loadtests_stack import Stack

from mfa_harness.checker import CheckContext, check
from mfa_harness.harness_http import InboxApi, PortalHarness

PROBERS = "resend-mixer=1,replayer=1,session-reuser=1,protected-visitor=1"


def by_persona(history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in sorted(history, key=lambda line: line["wall"]):
        out[line["persona"]].append(line)
    return out


def pairs(lines: list[dict[str, Any]], op: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(invoke value, completion line) of each `op`, in order (one user per persona here)."""
    out, waiting = [], []
    for line in lines:
        if line["op"] != op:
            continue
        if line["type"] == "invoke":
            waiting.append(line["value"])
        elif waiting:
            out.append((waiting.pop(0), line))
    return out


def black_box(stack: Stack, history: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The checker as a --target run would use it: no portal events."""
    accounts = PortalHarness(stack.portal.url).accounts()
    lines = sorted(history + InboxApi(stack.inbox.url).all_deliveries(), key=lambda line: line["wall"])
    return check(lines, CheckContext(white_box=False, accounts=accounts, time_scale=stack.time_scale))


def test_probers_keep_their_contracts_on_a_correct_portal(stack: Stack) -> None:
    run = stack.locust(users=4, run_time=14, personas=PROBERS)
    assert run.code == 0, run.log[-3000:]
    history = run.history()
    p = by_persona(history)
    # resend-mixer: wrong guess, resend, the older code refused (void after the resend), the newer accepted
    verifies = [(v["code"], done["type"], done["value"].get("reason")) for v, done in pairs(p["resend-mixer"], "verify")]
    assert ("wrong" in [r for _, _, r in verifies]) and any(t == "ok" for _, t, _ in verifies)
    assert any(done["type"] == "ok" for _, done in pairs(p["resend-mixer"], "resend"))
    extra = [done for v, done in pairs(p["resend-mixer"], "read_code") if v.get("purpose") == "extra"]
    assert extra and all(done["type"] in ("fail", "info") for done in extra), extra   # no second code per request
    # replayer: the used code is refused in the next login, its own code is accepted
    replays = [done for v, done in pairs(p["replayer"], "verify") if v.get("source") == "replay"]
    # refused as not this login's code; on a slow machine the new login may already have expired, and a
    # verify that the run's stop (or a connection error) cut off is "info": no answer, nothing to judge
    answered = [d for d in replays if d["type"] != "info"]
    assert answered and all(d["type"] == "fail" and d["value"]["reason"] in ("wrong", "expired") for d in answered), \
        [(d["type"], d["value"]) for d in replays]
    mates = [done for v, done in pairs(p["replayer"], "verify") if v.get("source") == "teammate"]
    assert all(d["type"] in ("fail", "info") for d in mates), [(d["type"], d["value"]) for d in mates]
    # session-reuser: the old session cookie after logout is not served, the "back" resubmit not accepted
    reused = [done for v, done in pairs(p["session-reuser"], "access_account") if v.get("after_logout")]
    # never served ("ok" would be the bug); one cut off by a connection error on a busy machine is "info"
    assert any(d["type"] == "fail" for d in reused) and all(d["type"] in ("fail", "info") for d in reused), \
        [d["value"] for d in reused]
    # every signed-in cycle reused its session, but the run may stop between the code and the reuse
    accepted = sum(1 for _, d in pairs(p["session-reuser"], "verify") if d["type"] == "ok")
    assert accepted - len(reused) in (0, 1), (accepted, len(reused))   # one cycle per accepted code
    resubmits, after_reuse = [], False     # the verify that follows each reuse is the "back" resubmit
    for line in p["session-reuser"]:
        if line["type"] == "invoke":
            continue
        if line["op"] == "access_account":
            after_reuse = any(line is d for d in reused)
        elif line["op"] == "verify" and after_reuse:
            resubmits.append(line)
            after_reuse = False
    assert all(d["type"] == "fail" for d in resubmits), [d["value"] for d in resubmits]
    # protected-visitor: with a pending login, no protected path shows partner data
    visits = pairs(p["protected-visitor"], "visit")
    assert {v["path"] for v, _ in visits} == {"/partner/account", "/partner/my-account"}
    # a visit cut off by a connection error on a busy machine is "info" and proves nothing either way
    assert any(d["type"] == "ok" for _, d in visits), [d["value"] for _, d in visits]
    assert all(d["value"]["signed_in"] is False for _, d in visits if d["type"] == "ok")
    assert all(d["type"] in ("ok", "info") for _, d in visits), [d["value"] for _, d in visits]

    verdict = black_box(stack, history)
    assert all(r["valid"] is not False for r in verdict.values()), {k: v for k, v in verdict.items()
                                                                    if v["valid"] is False}
    for name in ("single_use", "mfa_required", "recipient", "resend_limits", "no_login_loops"):
        assert verdict[name]["valid"] is True and verdict[name]["checked"] > 0, (name, verdict[name])


def test_probers_provoke_the_planted_bugs_and_the_black_box_checker_catches_them(make_stack: Any) -> None:
    stack = make_stack("resend-keeps-old-code", "mfa-bypass", "mfa-bypass-after-reset")
    run = stack.locust(users=3, run_time=12, personas="resend-mixer=1,protected-visitor=1,forgot-password=1")
    history = run.history()
    p = by_persona(history)
    verifies = pairs(p["resend-mixer"], "verify")
    assert verifies[1][1]["type"] == "ok", "the older code was accepted after a resend"
    assert any(d["value"]["signed_in"] for _, d in pairs(p["protected-visitor"], "visit"))
    reset = [d for _, d in pairs(p["forgot-password"], "reset_password")]
    assert reset and reset[0]["value"].get("page") == "account"

    verdict = black_box(stack, history)
    for name in ("resend_limits", "mfa_required"):
        assert verdict[name]["valid"] is False, (name, verdict[name])
    kinds = {line["op"] for example in verdict["mfa_required"]["examples"] for line in example}
    assert {"visit", "reset_password"} <= kinds


def test_replayer_catches_codes_that_repeat_across_logins(make_stack: Any) -> None:
    stack = make_stack("codes-repeat")
    run = stack.locust(users=2, run_time=12, personas="replayer=2")
    history = run.history()
    replays = [d for v, d in pairs(by_persona(history)["replayer"], "verify") if v.get("source") == "replay"]
    # the run may stop while a replay is in flight (`info` "stopped"): every replay answered was accepted
    answered = [d for d in replays if d["value"].get("reason") != "stopped"]
    assert len(answered) >= 2 and all(d["type"] == "ok" for d in answered), answered
    verdict = black_box(stack, history)
    assert verdict["single_use"]["valid"] is False and verdict["single_use"]["code_repeats"]["repeats"] >= 2
    timed = CheckContext(white_box=False, accounts=None, policy={"codes_repeat": True})
    lines = sorted(history + InboxApi(stack.inbox.url).all_deliveries(), key=lambda line: line["wall"])
    assert check(lines, timed)["single_use"]["valid"] is True     # a time-based-code policy allows repeats


def two_browsers_flows(history: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The completed operations of each two-browsers flow, in order."""
    flows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in sorted(history, key=lambda line: line["wall"]):
        if line["persona"] == "two-browsers" and line.get("flow") and line["op"] != "flow":
            flows[line["flow"]].append(line)
    return list(flows.values())


def foreign_tries(history: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(invoke value, completion) of each verify of browser 1's code in browser 2 (paired per user)."""
    per_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in sorted(history, key=lambda line: line["wall"]):
        if line["persona"] == "two-browsers":
            per_user[line["proc"]].append(line)
    return [(v, d) for lines in per_user.values() for v, d in pairs(lines, "verify") if v.get("source") == "other_login"]


def test_two_browsers_types_the_first_browsers_live_code_in_the_second_and_a_correct_portal_refuses(
        stack: Stack) -> None:
    run = stack.locust(users=2, run_time=10, personas="two-browsers=2")
    assert run.code == 0, run.log[-3000:]
    history = run.history()
    tries = foreign_tries(history)
    assert tries, "no browser-2 login typed browser 1's code"
    for invoke, done in tries:
        # known by the mail's reference (the reference portal has them): another login's, still live
        assert invoke["known_by"] == "ref" and invoke["code_ref"] != invoke["ref"], invoke
        assert invoke["code_seq"] <= invoke["login_after_seq"], invoke     # read before browser 2 signed in
        assert done["type"] in ("fail", "info") and done["value"]["reason"] in ("wrong", "stopped"), done
    for ops in two_browsers_flows(history):
        logins = [line for line in ops if line["op"] == "login" and line["type"] == "ok"]
        verifies = [line for line in ops if line["op"] == "verify" and line["type"] == "ok"]
        if len(verifies) < 2:
            continue                                            # cut short by the end of the run
        # two logins of one account (two references); browser 2 then browser 1 signed in with their own codes
        assert len(logins) == 2 and logins[0]["value"]["ref"] != logins[1]["value"]["ref"], logins
        assert len(verifies) == 2, verifies
    verdict = black_box(stack, history)
    binding = verdict["binding"]
    assert binding["valid"] is True and binding["other_login_codes"]["tries"] >= 1, binding
    assert all(r["valid"] is not False for r in verdict.values()), {k: v for k, v in verdict.items()
                                                                    if v["valid"] is False}


def test_two_browsers_provokes_code_not_bound_and_the_black_box_binding_check_catches_it(make_stack: Any) -> None:
    stack = make_stack("code-not-bound")
    run = stack.locust(users=2, run_time=10, personas="two-browsers=2")
    history = run.history()
    answered = [d for _, d in foreign_tries(history) if d["type"] != "info"]
    assert answered and all(d["type"] == "ok" for d in answered), answered    # browser 1's code opened login 2
    binding = black_box(stack, history)["binding"]
    assert binding["valid"] is False and binding["other_login_codes"]["accepted"] >= 1, binding
