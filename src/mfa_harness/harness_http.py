"""One small HTTP client for the harness's own APIs: the portal's `/_harness/...` endpoints and
the inbox's Mailpit-compatible `/api/v1/...` (plus its long-poll wait, deliveries and fault plan).

Blocking stdlib `urllib`: the runner, the nemesis, the pytest plugin, tests and benchmarks
call these between load phases, never on a hot path. Every call has a timeout. An HTTP error
status is an answer (a `Response`); no answer at all (refused, reset, timed out) is an
`HttpError` whose `status` is None. The endpoint classes raise `HttpError` for statuses they
do not expect, with the method, URL, status and the start of the body as fields.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mfa_harness.errors import HarnessError

DEFAULT_TIMEOUT = 30.0      # wall seconds for one request (long-polls add their own wait on top)
WAIT_MARGIN = 30.0          # extra wall seconds a long-poll's HTTP timeout gets over the wait itself
PAGE = 5000                 # lines per page when reading a paged log to its end
MAX_PAGES = 100_000         # bound on those pages: a log that never ends is an error, not a hang
_json_loads = json.loads     # the default line parser (the name `json` is a method of Response)


class HttpError(HarnessError, RuntimeError):
    """A request without the expected answer. `status` is None when there was no answer at all."""

    def __init__(self, method: str, url: str, status: int | None, detail: str) -> None:
        answer = f"answered {status}" if status is not None else "no answer"
        self.why = answer + (f" ({detail})" if detail else "")   # for a message of the caller's that names the URL
        super().__init__(f"{method} {url}: {self.why}", method=method, url=url, status=status, detail=detail or None)
        self.method, self.url, self.status, self.detail = method, url, status, detail


@dataclass(frozen=True)
class Response:
    """One HTTP answer, whatever its status."""

    method: str
    url: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON (None when empty); HttpError when it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(self.method, self.url, self.status, f"not JSON: {self.text[:200]!r}") from None

    def json_lines(self, loads: Callable[[bytes], Any] = _json_loads) -> list[Any]:
        """The body as JSON Lines (split at \\n only, never inside a string at U+2028); `loads`
        parses one line (the runner passes its faster msgspec parser)."""
        try:
            return [loads(line) for line in self.body.split(b"\n") if line.strip()]
        except ValueError:
            raise HttpError(self.method, self.url, self.status, f"not JSON lines: {self.text[:200]!r}") from None

    def expect(self, *statuses: int) -> Response:
        """This response when its status is one of `statuses` (default 200), else HttpError."""
        if self.status not in (statuses or (200,)):
            raise HttpError(self.method, self.url, self.status, " ".join(self.text.split())[:300])  # one line
        return self


def request(method: str, url: str, body: Any = None, *, timeout: float = DEFAULT_TIMEOUT,
            raw_body: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
    """One request; `body` is sent as JSON, `raw_body` as is. Any status is returned; HttpError
    (status None) when the server does not answer within `timeout` wall seconds."""
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and raw_body is None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(method, url, resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        with err:
            return Response(method, url, err.code, err.read(), dict(err.headers or {}))
    except urllib.error.URLError as err:
        raise HttpError(method, url, None, str(err.reason)) from None
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise HttpError(method, url, None, str(err) or type(err).__name__) from None


def call_json(method: str, url: str, body: Any = None, *, timeout: float = DEFAULT_TIMEOUT,
              expect: tuple[int, ...] = (200,)) -> Any:
    """The JSON answer of a request whose status is in `expect`; HttpError otherwise."""
    return request(method, url, body, timeout=timeout).expect(*expect).json()


def _query(path: str, **params: Any) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urllib.parse.urlencode(given)}" if given else path


class _Api:
    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, *, timeout: float | None = None,
                raw_body: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
        """Any path on this server; the status is the caller's to judge."""
        return request(method, self.url + path, body, timeout=self.timeout if timeout is None else timeout,
                       raw_body=raw_body, headers=headers)

    def json(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,),
             timeout: float | None = None) -> Any:
        return self.request(method, path, body, timeout=timeout).expect(*expect).json()

    def _paged(self, path: str, key: str, after: int, loads: Callable[[bytes], Any],
               page: int = PAGE) -> Iterator[dict[str, Any]]:
        """Follow `after=` pages of a JSON Lines log until a short page."""
        for _ in range(MAX_PAGES):
            lines = self.request("GET", _query(path, after=after, limit=page)).expect().json_lines(loads)
            yield from lines
            if len(lines) < page:
                return
            try:
                after = int(lines[-1][key])
            except (KeyError, TypeError, ValueError):
                raise HttpError("GET", self.url + path, 200, f"a line without an integer {key!r}: "
                                f"{str(lines[-1])[:200]!r}") from None
        raise HttpError("GET", self.url + path, None, f"more than {MAX_PAGES} pages")


class PortalHarness(_Api):
    """The reference portal's harness endpoints (the portal runs with `--harness`)."""

    def accounts(self) -> list[dict[str, Any]]:
        return self.json("GET", "/_harness/accounts")

    def events(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """One page of audit events with id > after."""
        return self.request("GET", _query("/_harness/events", after=after, limit=limit)).expect().json_lines()

    def all_events(self, after: int = 0, loads: Callable[[bytes], Any] = _json_loads) -> list[dict[str, Any]]:
        """Every audit event with id > after, read page by page to the end."""
        return list(self._paged("/_harness/events", "id", after, loads))

    def clock(self) -> dict[str, Any]:
        """`{"offset", "st", "wall", "scale"}` of the portal's scenario clock."""
        return self.json("GET", "/_harness/clock")

    def advance_clock(self, seconds: float) -> float:
        """Jump the scenario clock `seconds` ahead (negative: back); returns the total offset."""
        return float(self.json("POST", "/_harness/clock", {"advance": seconds})["offset"])

    def set_notification_email(self, partner_id: int, address: str) -> dict[str, Any]:
        return self.json("POST", "/_harness/notification-email", {"partner_id": partner_id, "address": address})

    def lock(self, partner_id: int) -> dict[str, Any]:
        return self.json("POST", "/_harness/lock", {"partner_id": partner_id})

    def unlock(self, partner_id: int) -> dict[str, Any]:
        return self.json("POST", "/_harness/unlock", {"partner_id": partner_id})


class InboxApi(_Api):
    """The inbox's HTTP API: fake_smtp's, or the Mailpit subset that fake_smtp also serves."""

    def info(self) -> dict[str, Any]:
        return self.json("GET", "/api/v1/info")

    def messages(self, start: int = 0, limit: int | None = None) -> dict[str, Any]:
        return self.json("GET", _query("/api/v1/messages", start=start or None, limit=limit))

    def delete_messages(self) -> None:
        self.request("DELETE", "/api/v1/messages").expect()

    def search(self, query: str, folder: str | None = None) -> dict[str, Any]:
        return self.json("GET", _query("/api/v1/search", query=query, folder=folder))

    def message(self, message_id: str) -> dict[str, Any]:
        return self.json("GET", f"/api/v1/message/{urllib.parse.quote(str(message_id), safe='')}")

    def raw(self, message_id: str) -> bytes:
        return self.request("GET", f"/api/v1/message/{urllib.parse.quote(str(message_id), safe='')}/raw").expect().body

    def wait(self, query: str = "", *, after: int = 0, timeout: float = 30.0,
             folder: str = "inbox") -> dict[str, Any] | None:
        """Long-poll for the first message matching `query` with Seq > after; None at the timeout."""
        res = self.request("GET", _query("/api/v1/wait", query=query, after=after, timeout=timeout, folder=folder),
                           timeout=timeout + WAIT_MARGIN).expect(200, 204)
        return None if res.status == 204 else res.json()

    def deliveries(self, after: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """One page of the delivery log (every delivery after event `after`)."""
        return self.request("GET", _query("/api/v1/deliveries", after=after, limit=limit)).expect().json_lines()

    def all_deliveries(self, after: int = 0, loads: Callable[[bytes], Any] = _json_loads) -> list[dict[str, Any]]:
        """The whole delivery log after event `after`, page by page."""
        return list(self._paged("/api/v1/deliveries", "seq_event", after, loads))

    def faults(self) -> dict[str, Any]:
        return self.json("GET", "/api/v1/faults")

    def set_faults(self, rules: list[dict[str, Any]], seed: int | None = None) -> dict[str, Any]:
        """Replace the fault plan (`seed` None: the inbox's own); HttpError (status 400, its detail
        saying which rule and field) for a bad plan."""
        plan: dict[str, Any] = {"rules": rules} if seed is None else {"seed": seed, "rules": rules}
        return self.put_faults(plan)

    def put_faults(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Replace the fault plan with a whole plan object, as `faults()` gave it: a plan read before
        a run is put back as it was, whatever keys it has."""
        return self.json("PUT", "/api/v1/faults", plan)
