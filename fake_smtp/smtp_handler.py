"""aiosmtpd glue: hooks that ask the Inbox, and an SMTP subclass for connect-stage faults.

Connect-stage refusals (``outage``, tempfail/permfail at ``connect``) happen before the
greeting, so they need the protocol object; on a connection kept open for more mail they are
asked again at each later MAIL (``connect_again``); 552 size refusals are produced inside
aiosmtpd, so ``push`` watches for them to record them in the history; any 421 reply
closes the connection afterwards, as RFC 5321 says it means.

``_getaddr`` answers the common ``<local@domain>`` form itself: aiosmtpd runs the email
package's full RFC 5322 header parser (and defines a typing.Protocol class) for every MAIL
and RCPT, about a tenth of the inbox's CPU per message. Anything else still goes to aiosmtpd.

``InboxSMTP.factory`` makes one protocol with aiosmtpd's own ``__init__`` and every later one
as a copy of it (``clone``): aiosmtpd's ``__init__`` lists the hooks, commands and AUTH
mechanisms with ``dir()`` and ``inspect.getmembers()`` for every connection, ~12 % of the
inbox's CPU per MFA login (the portal opens one SMTP session per email). ``handle_EHLO``
sends the EHLO reply's lines in one write instead of one write (and one syscall) per line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import types
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mfa_harness.fake_smtp.fault_engine import Refusal
from mfa_harness.fake_smtp.inbox import Inbox

log = logging.getLogger("fake_smtp.smtp")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# <dot-atom@dot-atom>: the local part and domain that the full parser returns unchanged
PLAIN_ANGLE_ADDR = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


class InboxHandler:
    """aiosmtpd handler: MAIL, RCPT and DATA hooks delegating to ``Inbox``.

    ``max_recipients`` caps RCPTs per message (0: no cap); past it RCPT gets 452 (RFC 5321
    4.5.3.1.10) and the sender must try those recipients in another transaction.  Without a
    cap, 10,000 RCPTs per message cost the inbox megabytes per message (envelope, index, history).
    """

    def __init__(self, inbox: Inbox, max_recipients: int = 0) -> None:
        self.inbox = inbox
        self.max_recipients = max_recipients

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        """aiosmtpd's own EHLO reply, its lines sent in one write (aiosmtpd pushes each line alone)."""
        session.host_name = hostname
        return ["\r\n".join(responses)]

    async def handle_MAIL(self, server: InboxSMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        refusal = server.connect_again() or self.inbox.on_mail(address)
        if refusal is not None:
            return refusal.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.max_recipients and len(envelope.rcpt_tos) >= self.max_recipients:
            return f"452 4.5.3 Too many recipients (at most {self.max_recipients} per message)"
        refusal = self.inbox.on_rcpt(address)
        if refusal is not None:
            return refusal.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            content: Any = envelope.content
            raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else bytes(content or b"")
        return await self.inbox.on_data(envelope.mail_from or "", tuple(envelope.rcpt_tos), bytes(raw))


def _rebound(value: Any, old: object, new: object) -> Any:
    """`value` with every method bound to `old` bound to `new`; dicts and named tuples copied
    (so `value` itself comes back only when nothing in it is per connection)."""
    if isinstance(value, types.MethodType):
        return types.MethodType(value.__func__, new) if value.__self__ is old else value
    if isinstance(value, dict):
        return {k: _rebound(v, old, new) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):   # aiosmtpd's _AuthMechAttr
        return type(value)(*(_rebound(v, old, new) for v in value))
    return value


class InboxSMTP(SMTP):
    """SMTP protocol with connect-stage faults and refusal bookkeeping."""

    def __init__(self, handler: InboxHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.inbox_handler = handler
        self._stage = "connect"
        self._transactions = 0  # MAIL commands that reached the handler on this connection

    @classmethod
    def factory(cls, handler: InboxHandler, **kwargs: Any) -> Callable[[], InboxSMTP]:
        """A protocol factory for ``loop.create_server``: one prototype built by aiosmtpd's
        ``__init__`` (never connected), and per connection a ``clone`` of it."""
        prototype = cls(handler, **kwargs)
        state = prototype.__dict__
        plain = {k: v for k, v in state.items() if _rebound(v, prototype, prototype) is v}
        prototype._bound = tuple(k for k in state if k not in plain)
        prototype._plain = plain
        return prototype.clone

    _plain: dict[str, Any]
    _bound: tuple[str, ...]

    def clone(self) -> InboxSMTP:
        """A protocol for a new connection, in the state aiosmtpd's ``__init__`` leaves one in.

        Settings are shared with this (unconnected) prototype, dicts are copied with the
        methods bound to the prototype bound to the copy, and asyncio's per-connection state
        (stream reader, closed future, flow control) is made new by its own ``__init__``.
        """
        new = object.__new__(type(self))
        state = new.__dict__
        state.update(self._plain)
        for k in self._bound:
            state[k] = _rebound(self.__dict__[k], self, new)
        reader = asyncio.StreamReader(loop=self.loop, limit=self.line_length_limit)
        asyncio.StreamReaderProtocol.__init__(new, reader, client_connected_cb=new._cb_client_connected,
                                              loop=self.loop)
        new.command_size_limits.clear()  # as aiosmtpd's __init__ does (a class-level dict)
        return new

    async def _handle_client(self) -> None:
        refusal = self.inbox_handler.inbox.on_connect()
        if refusal is None:
            await super()._handle_client()
            return
        if self.transport is None:
            return
        if refusal.code is None:
            self.transport.abort()  # outage: no greeting, connection reset
            return
        await super().push(refusal.reply)
        if self.transport is not None:
            self.transport.close()

    def connect_again(self) -> Refusal | None:
        """At MAIL: for every transaction after the connection's first, the question a new
        connection asks (``Inbox.on_connect``), so connect-stage faults hit a message sent on an
        open connection too, one decision per message as with a connection per message. An
        outage resets the connection here as it would at connect (the reply pushed after it goes
        nowhere); a 421 closes it after the reply (``push``); a 5xx refuses the transaction only."""
        self._transactions += 1
        if self._transactions == 1:
            return None
        refusal = self.inbox_handler.inbox.on_connect(open_connection=True)
        if refusal is not None and refusal.code is None and self.transport is not None:
            self.transport.abort()
        return refusal

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        m = PLAIN_ANGLE_ADDR.match(arg)
        rest = arg[m.end():].lstrip(" \t") if m is not None else ""
        if m is None or rest.startswith("("):          # comments after the address: the full parser
            return super()._getaddr(arg)
        addr = m.group(1)
        if self.local_part_limit and addr.index("@") > self.local_part_limit:
            return None, None
        return addr, rest

    async def smtp_MAIL(self, arg: str | None) -> None:
        self._stage = "mail"
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str) -> None:
        self._stage = "data"
        await super().smtp_DATA(arg)

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        if text.startswith("552") and self._stage in ("mail", "data"):
            rcpts = tuple(self.envelope.rcpt_tos) if self.envelope is not None else ()
            self.inbox_handler.inbox.on_size_refused(self._stage, rcpts)
        await super().push(status)
        if text.startswith("421") and self.transport is not None:
            self.transport.close()
