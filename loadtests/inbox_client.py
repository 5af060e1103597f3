"""The inbox client: codes through the inbox's long-poll `wait`, never a sleep-and-poll loop.

It remembers the last `Seq` it saw, so the next wait only matches newer mail, and measures
delivery delay from the message summary's `Received`/`Delivered`. Its requests go to
Locust's stats as their own request type (`INBOX`), outside the aggregated row, so waiting
for mail never counts as portal requests per second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .profile import TargetProfile
from .response_text import response_json

MAX_WAIT = 300.0           # the inbox's own cap on one long-poll, wall seconds


@dataclass
class Mail:
    """One message summary as the personas need it."""

    seq: int
    message_id: str
    api_id: str
    folder: str
    code: str | None
    ref: str | None
    received: float | None
    delivered: float | None
    snippet: str

    @property
    def delay_s(self) -> float | None:
        """Inbox-side delivery delay (Delivered - Received, wall seconds), per the contract."""
        if self.received is None or self.delivered is None:
            return None
        return max(0.0, self.delivered - self.received)


class WaitError(Exception):
    """The inbox did not answer (connection error, 5xx): the outcome of the read is unknown."""


class InboxClient:
    """Long-poll reads of one inbox API over a FastHttpSession whose stats bypass the total."""

    def __init__(self, session: Any, profile: TargetProfile) -> None:
        self.session = session
        self.profile = profile
        self.last_seq = 0
        self._synced = False

    def _get(self, path: str, name: str) -> Any:
        resp = self.session.request("GET", path, name=name)
        status = resp.status_code or 0
        if status == 0 or status >= 500:
            raise WaitError(f"inbox {name}: {getattr(resp, 'error', None) or 'HTTP ' + str(status)}")
        if status >= 400:
            raise WaitError(f"inbox {name}: HTTP {status}: {(resp.text or '')[:200]}")
        return resp

    def current_seq(self) -> int:
        """The newest Seq in the inbox: later mail has a larger one (one cheap request)."""
        data = response_json(self._get("/api/v1/messages?limit=1", "messages (seq)"))
        msgs = data.get("messages") or []
        seq = int(msgs[0].get("Seq") or 0) if msgs else 0
        self._synced = True
        self.last_seq = max(self.last_seq, seq)
        return self.last_seq

    def floor(self) -> int:
        """A Seq no earlier than this client's start: the newest Seq seen, learnt from the inbox on
        first use (one request per client), so mail delivered before the run is never read."""
        if not self._synced:
            self._synced = True
            return self.current_seq()
        return self.last_seq

    def wait(self, query: str, after: int, timeout_s: float, folder: str = "inbox") -> Mail | None:
        """The first message matching `query` with Seq > `after`, or None after `timeout_s` (wall).

        Longer waits than the inbox's cap are split into consecutive long-polls (bounded count).
        """
        deadline = time.time() + max(0.0, timeout_s)
        for _ in range(int(timeout_s // MAX_WAIT) + 2):
            left = deadline - time.time()
            if left <= 0:
                return None
            q = urlencode({"query": query, "after": after, "timeout": f"{min(left, MAX_WAIT):.3f}",
                           "folder": folder})
            resp = self._get(f"/api/v1/wait?{q}", f"wait ({folder})")
            if resp.status_code == 204:
                continue
            mail = self._mail(response_json(resp))
            self.last_seq = max(self.last_seq, mail.seq)
            return mail
        return None

    def newest_before(self, query: str, before_seq: int, limit: int = 50) -> Mail | None:
        """The newest message matching `query` with Seq <= `before_seq` (mail that predates a login),
        from one search (newest first), or None."""
        q = urlencode({"query": query, "limit": limit})
        data = response_json(self._get(f"/api/v1/search?{q}", "search"))
        for s in data.get("messages") or []:
            if int(s.get("Seq") or 0) <= before_seq:
                return self._mail(s)
        return None

    def _mail(self, s: dict[str, Any]) -> Mail:
        snippet = str(s.get("Snippet") or "")
        # The profile's code regex is the one used (the inbox's own extraction only when the
        # snippet and the text part do not match it: a snippet can be cut short).
        code = self.profile.code_in(snippet)
        api_id = str(s.get("ID") or "")
        if code is None and api_id and self.profile.code_regex.pattern:
            code = self.profile.code_in(self.text(api_id)) if s.get("Code") is not None else None
        ref = self.profile.mail_ref_in(snippet)
        if ref is None and self.profile.ref_regex is not None and api_id:
            ref = self.profile.mail_ref_in(self.text(api_id))
        return Mail(seq=int(s.get("Seq") or 0), message_id=str(s.get("MessageID") or ""), api_id=api_id,
                    folder=str(s.get("Folder") or "inbox"), code=str(code) if code is not None else None, ref=ref,
                    received=_float(s.get("Received")), delivered=_float(s.get("Delivered")), snippet=snippet)

    def text(self, api_id: str) -> str:
        """The text part of one message (only when the snippet did not carry what we need)."""
        data = response_json(self._get(f"/api/v1/message/{api_id}", "message"))
        return str(data.get("Text") or "")


def _float(v: Any) -> float | None:
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None
