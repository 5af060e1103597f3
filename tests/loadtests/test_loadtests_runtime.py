"""The harness's Locust wiring: state per environment, roles picked once (issue 10).

Environments and runners are built in a child Python (Locust's gevent monkey-patching would
otherwise change sockets and threads under every other test of the session); it talks to a
real inbox, as the preflight requires.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loadtests_stack import REPO, start

CHILD = r"""
import json, sys
import locust
from locust.argument_parser import get_parser
from locust.env import Environment
from mfa_harness.loadtests import runtime
from mfa_harness.loadtests.personas import Careful

runtime.register()
inbox, accounts, tmp = sys.argv[1:4]
envs = {}
for name in ("a", "b"):
    opts = get_parser().parse_args(["-f", "loadtests/locustfile.py", "--headless", "--inbox-url", inbox,
                                    "--accounts-file", accounts, "--history-file", f"{tmp}/{name}.jsonl",
                                    "--personas", "careful=1"])
    env = Environment(parsed_options=opts)
    runtime.on_init(environment=env, runner=env.create_local_runner())
    envs[name] = env
Careful.host = "http://127.0.0.1:9"          # set by Locust's spawner in a run; no request goes there
user = Careful(envs["a"])
user.on_start()
user.person.s.rec.line("invoke", "probe", {"from": "a"})   # the persona's client steps record
for env in envs.values():
    runtime.on_test_stop(environment=env)
print(json.dumps({name: open(f"{tmp}/{name}.jsonl").read().splitlines() for name in envs}))
"""


def test_two_environments_in_one_process_keep_their_own_harness(tmp_path: Path) -> None:
    """A user of environment A records into A's history, even after B was initialised (with a module
    singleton the last `init` won, and A's user wrote into B's file)."""
    inbox = start([sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0"],
                  tmp_path / "inbox.log", "inbox")
    try:
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("partner_id,program,username,password,notification_email\n"
                            "1,agency,u1@example.test,pw,team@example.test\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-c", CHILD, inbox.url, str(accounts), str(tmp_path)], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    finally:
        inbox.stop()
    assert out.returncode == 0, out.stderr[-2000:]
    files = json.loads(out.stdout.strip().splitlines()[-1])
    assert [json.loads(line)["value"] for line in files["a"]] == [{"from": "a"}]
    assert files["b"] == []
