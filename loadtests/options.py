"""The harness's own Locust options (docs/interfaces.md "Processes"), shown in the web UI too.

Registered through `events.init_command_line_parser`. Values are checked while the command line
is parsed (argparse `type=`), so a bad one stops Locust with one clear line and exit code 2
before `--processes` forks any worker; `init` checks again for values set other ways.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from mfa_harness import cli_args
from mfa_harness.errors import tell_parent
from mfa_harness.timebase import MAX_TIME_SCALE

DEFAULT_CODE_TIMEOUT = 300.0     # scenario seconds a user waits for a code before giving up
DEFAULT_LOOP_WINDOW = 60.0       # scenario seconds after a verify in which the login form means "loop"


class OptionsError(ValueError):
    """A harness option with a value that cannot be used."""


def _checked(check: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse type that validates the text and keeps it (the web UI form sends strings too)."""
    def convert(text: str) -> str:
        try:
            check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return convert


def _check_personas(text: str) -> None:
    from .persona_registry import PERSONA_NAMES

    parse_personas(text, list(PERSONA_NAMES))


def _check_threshold(text: str) -> None:
    from .thresholds import parse

    parse(text)


def _check_profile(text: str) -> None:
    from .profile import load_profile

    if text:
        load_profile(text)


def env_var_of(flag: str) -> str:
    """`--inbox-url` -> `LOCUST_INBOX_URL`: Locust's own naming, so the harness options read like its own."""
    return "LOCUST_" + flag.lstrip("-").upper().replace("-", "_")


def add_arguments(parser: Any) -> None:
    """Add the harness options to Locust's parser (a configargparse parser).

    Each option also reads from its `LOCUST_…` environment variable and from `locust.conf`
    (`inbox-url = …`), as Locust's own options do; the command line wins over both.
    """
    known = {id(a) for a in parser._actions}
    _errors_tell_the_parent(parser)
    _declare(parser)
    for action in parser._actions:
        if id(action) not in known and action.option_strings:
            action.env_var = env_var_of(action.option_strings[-1])    # what `env_var=` declares in configargparse
            action.help = f"{action.help} [env {action.env_var}]"


def _errors_tell_the_parent(parser: Any) -> None:
    """argparse reports a bad option through `parser.error(message)`: a runner waiting for Locust's ready
    line gets the same message as a JSON error line (mfa_harness.errors.tell_parent), not from stderr."""
    say = parser.error

    def error(message: str) -> Any:
        tell_parent(message)
        return say(message)

    parser.error = error


def _declare(parser: Any) -> None:
    g = parser          # argument groups do not take include_in_web_ui, the parser itself does
    g.add_argument("--inbox-url", default="", help="base URL of the inbox API (fake_smtp or Mailpit), "
                   "e.g. http://127.0.0.1:8025", include_in_web_ui=True)
    g.add_argument("--accounts-url", default="", help="URL returning the accounts as JSON "
                   "(default: HOST/_harness/accounts)", include_in_web_ui=True)
    g.add_argument("--accounts-file", default="", help="accounts as CSV or JSON instead of --accounts-url",
                   include_in_web_ui=True)
    g.add_argument("--time-scale", type=cli_args.time_scale, default=1.0, help="scenario time runs this many times faster "
                   "than wall time", include_in_web_ui=True)
    g.add_argument("--epoch", type=cli_args.epoch, default=0.0, help="Unix wall time of scenario time 0 "
                   "(default: when Locust starts)", include_in_web_ui=True)
    g.add_argument("--await-go", action="store_true", default=False, help="print a JSON ready line once set up "
                   "(workers connected, inbox and portal answered) and wait for a JSON line {\"epoch\": T} on stdin; "
                   "the load then begins at wall time T, which becomes scenario time 0 (used by mfa-harness run)")
    g.add_argument("--target-profile", type=_checked(_check_profile), default="", help="TOML target profile of the portal "
                   "(default: loadtests/profiles/reference.toml)", include_in_web_ui=True)
    g.add_argument("--history-file", default="", help="write the client history (JSON lines) here",
                   include_in_web_ui=True)
    g.add_argument("--summary-file", default="", help="write the end-of-run JSON summary here",
                   include_in_web_ui=True)
    g.add_argument("--threshold", action="append", type=_checked(_check_threshold), default=None, help="pass/fail expression such as "
                   "\"flow.p95 < 8s\" (repeatable; in the web UI separate several with ';'); a missed threshold "
                   "makes Locust exit with 3", include_in_web_ui=True)
    g.add_argument("--abort-on-fail", action="store_true", default=False, help="stop the test as soon as a "
                   "threshold on a growing count (loops, outcome.*, arrivals.dropped, http.failures…) is missed",
                   include_in_web_ui=True)
    g.add_argument("--personas", type=_checked(_check_personas), default="", help="user-class weights by persona name, e.g. "
                   "\"careful=3,hasty=1,affiliate=1\"", include_in_web_ui=True)
    g.add_argument("--arrival-rate", type=cli_args.number(0.0), default=0.0, help="open model: login flows start as a Poisson "
                   "process with this many arrivals per scenario second (0 = Locust's closed model)",
                   include_in_web_ui=True)
    g.add_argument("--code-timeout", type=cli_args.duration(positive=True), default=DEFAULT_CODE_TIMEOUT, help="scenario time a "
                   "user waits for a code before the flow ends as no_code (e.g. 300, 5m)", include_in_web_ui=True)
    g.add_argument("--fresh-connections", action="store_true", default=False, help="open a new connection "
                   "for every portal request (Connection: close), as behind a load balancer that spreads one "
                   "browser's requests over several portal processes", include_in_web_ui=True)
    g.add_argument("--seed", type=int, default=None, help="seed of every simulated user's decisions "
                   "(each user draws from its own generator seeded by this, its persona and its account), so a "
                   "run's choices repeat; unset = fresh randomness", include_in_web_ui=True)
    g.add_argument("--loop-window", type=cli_args.duration(), default=DEFAULT_LOOP_WINDOW, help="scenario time (e.g. 60, 1m) after a "
                   "successful verify in which landing on the login form counts as a login loop",
                   include_in_web_ui=True)


def parse_personas(text: str, known: list[str]) -> dict[str, float]:
    """`"careful=3,hasty=1"` -> {"careful": 3.0, "hasty": 1.0}; unknown names are an error."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep:
            raise OptionsError(f"--personas: {part!r} must be NAME=WEIGHT")
        if name not in known:
            raise OptionsError(f"--personas: unknown persona {name!r} (known: {', '.join(sorted(known))})")
        try:
            weight = float(raw)
        except ValueError:
            raise OptionsError(f"--personas: weight of {name!r} must be a number, got {raw.strip()!r}") from None
        if weight < 0 or weight != weight:
            raise OptionsError(f"--personas: weight of {name!r} must be >= 0, got {raw.strip()}")
        out[name] = weight
    if out and not any(out.values()):
        raise OptionsError("--personas: at least one persona needs a weight > 0")
    return out


def integer_weights(weights: dict[str, float]) -> dict[str, int]:
    """Locust weights are integers: scale so the smallest positive weight is at least 1."""
    positive = [w for w in weights.values() if w > 0]
    if not positive:
        return {k: 0 for k in weights}
    factor = 1.0
    while min(positive) * factor < 1 or any(abs(w * factor - round(w * factor)) > 1e-6 for w in positive):
        factor *= 10
        if factor > 1000:
            break
    ints = {k: max(1, round(w * factor)) if w > 0 else 0 for k, w in weights.items()}
    divisor = math.gcd(*[v for v in ints.values() if v > 0])
    return {k: v // divisor for k, v in ints.items()}


def check_options(opts: Any) -> None:
    """Raise OptionsError for values no run can use."""
    if not 0 < opts.time_scale <= MAX_TIME_SCALE:
        raise OptionsError(f"--time-scale must be > 0 and <= {MAX_TIME_SCALE:g}, got {opts.time_scale}")
    if opts.arrival_rate < 0:
        raise OptionsError(f"--arrival-rate must be >= 0, got {opts.arrival_rate}")
    if not opts.code_timeout > 0:
        raise OptionsError(f"--code-timeout must be > 0 scenario seconds, got {opts.code_timeout}")
    if opts.loop_window < 0:
        raise OptionsError(f"--loop-window must be >= 0, got {opts.loop_window}")
    if opts.accounts_url and opts.accounts_file:
        raise OptionsError("give --accounts-url or --accounts-file, not both")
