"""The outbox's SMTP sender, speaking what `aiosmtplib.send` speaks: `send` one message in one session,
`Sender` successive messages over sessions it keeps open (below).

`aiosmtplib.send` cost ~2.5 M instructions per message here (an `SMTP` object with its option
checks, a protocol class, per-command locks and `wait_for` tasks, the address parser), against
~0.9 M for the same exchange over asyncio streams (callgrind, bench/README.md issue 15). This
module is that exchange, with aiosmtplib's wire behaviour and its exceptions, so a refusal,
a reset or a timeout gives the outbox the same `classify` result as before:

- connect (``timeout``) and greeting 220, else `SMTPConnectError` (refused, reset),
  `SMTPConnectTimeoutError` or `SMTPConnectResponseError` (another code), connection closed;
- EHLO (HELO if EHLO is refused), else `SMTPHeloError`; ``SIZE=n`` on MAIL FROM when the server
  offers SIZE (n: the message with CRLF line endings, as aiosmtplib counts it);
- MAIL, else `SMTPSenderRefused`; RCPT (250/251), else `SMTPRecipientsRefused`; DATA 354 and the
  dot-stuffed message 250, else `SMTPDataError`; after any of these refusals RSET, then QUIT;
- a closed or reset connection is `SMTPServerDisconnected`, a reply slower than ``timeout``
  `SMTPTimeoutError` (each reply has its own ``timeout``, as in aiosmtplib); both just close;
- QUIT after a 250 (`send`; a `Sender` keeps the session for the next mail), its reply or failure ignored.
"""

from __future__ import annotations

import asyncio
import re

from aiosmtplib import (
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPConnectTimeoutError,
    SMTPDataError,
    SMTPHeloError,
    SMTPReadTimeoutError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from aiosmtplib.email import parse_address

LINE_ENDINGS = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
PERIOD = re.compile(rb"(?m)^\.")
DOT_ATOM_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                              r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def mailbox(address: str) -> bytes:
    """`<address>` as aiosmtplib quotes it (its parser only for what is not a plain dot-atom address)."""
    plain = address if DOT_ATOM_ADDRESS.fullmatch(address) else parse_address(address)
    return b"<" + plain.encode("ascii") + b">"


class _Session:
    """The reader, writer and per-reply timeout of one connection, and what its EHLO offered."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.size = False      # the server offers SIZE
        self.idle_since = 0.0  # loop time it was last put back idle (`Sender`)

    async def reply(self) -> tuple[int, str]:
        """(code, text) of the next reply, its lines joined by newlines."""
        lines: list[str] = []
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    line = await self.reader.readline()
                    if not line.endswith(b"\n"):
                        break
                    text = line.decode("utf-8", "surrogateescape").rstrip("\r\n")
                    code = text[:3]
                    if not code.isdigit():
                        raise SMTPResponseException(-1, "Malformed SMTP response line")
                    lines.append(text[4:])
                    if text[3:4] != "-":
                        return int(code), "\n".join(lines)
        except TimeoutError as exc:
            raise SMTPReadTimeoutError("Timed out waiting for server response") from exc
        except OSError as exc:  # reset
            raise SMTPServerDisconnected("Connection lost") from exc
        raise SMTPServerDisconnected("Connection lost")  # end of file

    async def command(self, line: bytes) -> tuple[int, str]:
        try:
            self.writer.write(line + b"\r\n")
        except OSError as exc:
            raise SMTPServerDisconnected("Connection lost") from exc
        return await self.reply()

    def stale(self) -> bool:
        """The server closed or reset this idle connection, or said something unasked (a 421
        before closing): it cannot carry a transaction. asyncio's streams have no public test
        for bytes already received, hence the reader's own fields."""
        reader = self.reader
        return (self.writer.is_closing() or reader.exception() is not None or reader._eof  # type: ignore[attr-defined]
                or bool(reader._buffer))  # type: ignore[attr-defined]

    def close(self) -> None:
        self.writer.close()


async def _open(host: str, port: int, local_hostname: str, timeout: float) -> _Session:
    """Connect, read the greeting and say EHLO (HELO if refused); raises as aiosmtplib's connect does."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError as exc:
        raise SMTPConnectTimeoutError(f"Timed out connecting to {host} on port {port}") from exc
    except OSError as exc:
        raise SMTPConnectError(f"Error connecting to {host} on port {port}: {exc}") from exc
    s = _Session(reader, writer, timeout)
    try:
        try:
            code, text = await s.reply()
        except SMTPServerDisconnected as exc:
            raise SMTPConnectError(f"Error connecting to {host} on port {port}: {exc}") from exc
        except SMTPTimeoutError as exc:
            raise SMTPConnectTimeoutError("Timed out waiting for server ready message") from exc
        if code != 220:
            raise SMTPConnectResponseError(code, text)
        code, text = await s.command(b"EHLO " + local_hostname.encode("ascii"))
        if code != 250:
            code, text = await s.command(b"HELO " + local_hostname.encode("ascii"))
            if code != 250:
                raise SMTPHeloError(code, text)
        else:
            s.size = "size" in {line.split(" ", 1)[0].split("=", 1)[0].lower() for line in text.split("\n")[1:]}
    except BaseException:
        s.close()
        raise
    return s


def _message(raw: bytes) -> bytes:
    """`raw` with CRLF line endings and a final CRLF, as aiosmtplib sends it (before dot-stuffing)."""
    message = LINE_ENDINGS.sub(b"\r\n", raw)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


async def _quit(s: _Session) -> None:
    try:
        await s.command(b"QUIT")
    except (SMTPServerDisconnected, SMTPResponseException, SMTPTimeoutError):
        pass


async def send(raw: bytes, sender: str, recipient: str, host: str, port: int, local_hostname: str,
               timeout: float) -> None:
    """Deliver `raw` to `recipient` in one session; raises as `aiosmtplib.send` would (see above)."""
    mail_from, rcpt_to = mailbox(sender), mailbox(recipient)
    s = await _open(host, port, local_hostname, timeout)
    try:
        await _transaction(s, mail_from, rcpt_to, _message(raw), sender, recipient)
        await _quit(s)
    finally:
        s.close()


async def _transaction(s: _Session, mail_from: bytes, rcpt_to: bytes, message: bytes, sender: str,
                       recipient: str) -> None:
    """MAIL, RCPT, DATA; after a refusal RSET and QUIT (their failures ignored), then the refusal."""
    try:
        code, text = await s.command(b"MAIL FROM:" + mail_from + (b" size=%d" % len(message) if s.size else b""))
        if code != 250:
            raise SMTPSenderRefused(code, text, sender)
        code, text = await s.command(b"RCPT TO:" + rcpt_to)
        if code not in (250, 251):
            raise SMTPRecipientsRefused([SMTPRecipientRefused(code, text, recipient)])
        code, text = await s.command(b"DATA")
        if code != 354:
            raise SMTPDataError(code, text)
        s.writer.write(PERIOD.sub(b"..", message) + b".\r\n")
        code, text = await s.reply()
        if code != 250:
            raise SMTPDataError(code, text)
    except (SMTPResponseException, SMTPRecipientsRefused):
        for line in (b"RSET", b"QUIT"):
            try:
                await s.command(line)
            except (SMTPServerDisconnected, SMTPResponseException, SMTPTimeoutError):
                break
        raise


IDLE_SECONDS = 5.0  # wall seconds a kept session may sit unused before it is closed


class Sender:
    """`send` over SMTP sessions kept open between mails: the same exchange and the same exceptions
    without a connection, greeting and EHLO per mail.

    A mail takes the session put back last, or opens one when none is idle (mails sent at once each
    need their own: a session carries one transaction at a time), so mail sent one at a time uses one
    session. A session is put back only after a 250; after any failure it is closed (after RSET and
    QUIT for a refusal, as `send` does), and the next mail connects afresh. An idle session the
    server closed, reset or spoke on (its idle timeout, a restart, a 421) is found before MAIL is
    written and replaced by a new connection at once: nothing was sent, so it is no attempt. Once
    MAIL is written everything counts as in `send`: a reset or a 421 answering MAIL is the server's
    word on this mail (the inbox answers connect-stage faults there), and trying again at once on a
    new connection would ask a fault plan twice about one mail. Sessions idle for `idle_seconds` are
    closed (`close_idle`, and when taken), all of them by `close`.
    """

    def __init__(self, host: str, port: int, local_hostname: str, timeout: float,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.host, self.port, self.local_hostname, self.timeout = host, port, local_hostname, timeout
        self.idle_seconds = idle_seconds
        self._idle: list[_Session] = []  # oldest first
        self._closed = False
        self.opened = 0   # connections opened
        self.stale = 0    # idle sessions found closed by the server and replaced

    async def send(self, raw: bytes, sender: str, recipient: str) -> None:
        """Deliver `raw` to `recipient`; raises as `send` (and so `aiosmtplib.send`) would."""
        s = self._take()
        if s is None:
            s = await _open(self.host, self.port, self.local_hostname, self.timeout)
            self.opened += 1
        try:
            await _transaction(s, mailbox(sender), mailbox(recipient), _message(raw), sender, recipient)
        except BaseException:
            s.close()
            raise
        if self._closed:
            _retire(s)
        else:
            s.idle_since = asyncio.get_running_loop().time()
            self._idle.append(s)

    def _take(self) -> _Session | None:
        """The most recently used idle session that can still carry a transaction, or None."""
        if not self._idle:
            return None
        self.close_idle()
        while self._idle:
            s = self._idle.pop()
            if not s.stale():
                return s
            self.stale += 1
            s.close()
        return None

    def close_idle(self) -> None:
        """Close the sessions unused for `idle_seconds` (cheap: the outbox calls it at every poll)."""
        if self._idle:
            limit = asyncio.get_running_loop().time() - self.idle_seconds
            while self._idle and self._idle[0].idle_since <= limit:
                _retire(self._idle.pop(0))

    def close(self) -> None:
        """QUIT and close every idle session, waiting for no reply (a stopping portal must not wait on
        a stuck server); a session still in use is closed so when its mail is done."""
        self._closed = True
        idle, self._idle = self._idle, []
        for s in idle:
            _retire(s)


def _retire(s: _Session) -> None:
    """QUIT without waiting for its reply, then close: the server ends the session as it would after
    a QUIT it answered."""
    try:
        s.writer.write(b"QUIT\r\n")
    except OSError:
        pass
    s.close()
