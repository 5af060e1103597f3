"""aiosmtpd glue: hooks that ask the Inbox, and an SMTP subclass for connect-stage faults.

Connect-stage refusals (``outage``, tempfail/permfail at ``connect``) happen before the
greeting, so they need the protocol object; 552 size refusals are produced inside
aiosmtpd, so ``push`` watches for them to record them in the history; any 421 reply
closes the connection afterwards, as RFC 5321 says it means.

``_getaddr`` answers the common ``<local@domain>`` form itself: aiosmtpd runs the email
package's full RFC 5322 header parser (and defines a typing.Protocol class) for every MAIL
and RCPT, about a tenth of the inbox's CPU per message. Anything else still goes to aiosmtpd.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

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

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        refusal = self.inbox.on_mail(address)
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


class InboxSMTP(SMTP):
    """SMTP protocol with connect-stage faults and refusal bookkeeping."""

    def __init__(self, handler: InboxHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.inbox_handler = handler
        self._stage = "connect"

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
