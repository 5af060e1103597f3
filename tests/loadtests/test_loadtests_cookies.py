"""The simulated browser's one-origin cookie jar: RFC 6265 rules it keeps, and the real portal's
cookies going in and out through geventhttpclient (Locust's FastHttpSession) in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

from loadtests_stack import REPO, Stack

from mfa_harness.loadtests.cookies import Cookie, OneOriginJar, default_path, parse_set_cookie, path_matches

NOW = 1_800_000_000.0


def test_set_cookie_values_parse_like_a_browser() -> None:
    c = parse_set_cookie('sid="2|abc|def"; HttpOnly; Path=/; SameSite=Lax', "/partner/login", NOW)
    assert c == Cookie("sid", "2|abc|def", "/", None)
    assert parse_set_cookie("a=1", "/partner/login", NOW) == Cookie("a", "1", "/partner", None)
    # Tornado's clear_cookie: empty value and an Expires a year ago -> expired now
    gone = parse_set_cookie("sid=; expires=Thu, 01 Jan 2015 00:00:00 GMT; Path=/", "/", NOW)
    assert gone is not None and gone.expires is not None and gone.expires <= NOW
    assert parse_set_cookie("a=1; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT", "/", NOW).expires == NOW
    assert parse_set_cookie("a=1; Max-Age=60", "/", NOW).expires == NOW + 60
    assert parse_set_cookie("a=1; Max-Age=soon; Expires=never", "/", NOW) == Cookie("a", "1", "/", None)
    assert parse_set_cookie("novalue", "/", NOW) is None and parse_set_cookie("=x", "/", NOW) is None


def test_paths_match_per_rfc_6265() -> None:
    assert default_path("/") == "/" and default_path("/a") == "/" and default_path("/a/b/c") == "/a/b"
    assert path_matches("/partner/verify", "/partner") and path_matches("/partner", "/partner")
    assert path_matches("/a/b", "/") and path_matches("/a/b", "/a/")
    assert not path_matches("/partnership", "/partner") and not path_matches("/", "/partner")


def _req(path: str) -> SimpleNamespace:
    return SimpleNamespace(url_split=SimpleNamespace(path=path), headers={})


def _resp(*set_cookies: str) -> SimpleNamespace:
    return SimpleNamespace(headers=SimpleNamespace(getlist=lambda name: list(set_cookies)))


def test_the_jar_sends_stores_deletes_and_blocks() -> None:
    jar = OneOriginJar()
    jar.extract_cookies(_resp("sid=1; Path=/", "step=2; Path=/partner"), _req("/partner/login"))
    r = _req("/partner/verify")
    jar.add_cookie_header(r)
    assert r.headers["Cookie"] == "step=2; sid=1"            # longer path first
    r = _req("/affiliate/login")
    jar.add_cookie_header(r)
    assert r.headers["Cookie"] == "sid=1"
    jar.extract_cookies(_resp("sid=; expires=Thu, 01 Jan 2015 00:00:00 GMT; Path=/"), _req("/logout"))
    assert jar.names() == ["step"]
    jar.clear()
    jar.allowed = frozenset({"_xsrf"})
    jar.extract_cookies(_resp("sid=9; Path=/", "_xsrf=t; Path=/"), _req("/"))
    assert jar.names() == ["_xsrf"]
    r = _req("/")
    jar.add_cookie_header(r)
    assert r.headers["Cookie"] == "_xsrf=t"
    empty = _req("/")
    OneOriginJar().add_cookie_header(empty)
    assert "Cookie" not in empty.headers


CLIENT = r"""
import json, sys
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from mfa_harness.loadtests.portal_client import PortalClient
from mfa_harness.loadtests.profile import load_profile
from mfa_harness.loadtests.redirects import LoopWatch
from mfa_harness.harness_http import PortalHarness

portal = sys.argv[1]
accounts = PortalHarness(portal).accounts()
aff = next(a for a in accounts if a["program"] == "affiliate")
env = Environment()
session = FastHttpSession(portal, request_event=env.events.request, user=None)
client = PortalClient(session, load_profile(None), LoopWatch(window_s=1.0))
out = {}
page = client.get("/affiliate/login")
landed = client.submit(page, "/affiliate/login", {"username": aff["username"], "password": aff["password"]})
out["signed_in"] = [landed.page, client.jar.names()]
out["dashboard"] = client.get("/affiliate/dashboard").page
out["logout"] = [client.submit(landed, "/logout", {}).page, client.jar.names()]
out["after_logout"] = client.get("/affiliate/dashboard").page
client.block_cookies()
page = client.get("/affiliate/login")
landed = client.submit(page, "/affiliate/login", {"username": aff["username"], "password": aff["password"]})
out["blocked"] = [landed.status, landed.page, client.jar.names()]
print(json.dumps(out))
"""


def test_the_portal_cookies_go_in_and_out_through_geventhttpclient(stack: Stack) -> None:
    res = subprocess.run([sys.executable, "-c", CLIENT, stack.portal.url], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["signed_in"][0] == "affiliate_dashboard" and len(out["signed_in"][1]) >= 2   # session + _xsrf
    assert out["dashboard"] == "affiliate_dashboard"
    # the device cookie outlives the session (the browser's own password-throttle bucket)
    assert out["logout"][1] == ["_xsrf", "pp_device"] and out["after_logout"] == "affiliate_login", out
    assert out["blocked"][2] == [] and out["blocked"][1] != "affiliate_dashboard", out
