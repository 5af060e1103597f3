"""One message, one SMTP session: the outbox's sender, speaking what `aiosmtplib.send` speaks.

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
- QUIT after a 250, its reply or its failure ignored.
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
    """The reader, writer and per-reply timeout of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout

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

    def close(self) -> None:
        self.writer.close()


async def send(raw: bytes, sender: str, recipient: str, host: str, port: int, local_hostname: str,
               timeout: float) -> None:
    """Deliver `raw` to `recipient` in one session; raises as `aiosmtplib.send` would (see above)."""
    mail_from, rcpt_to = mailbox(sender), mailbox(recipient)
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
            extensions: set[str] = set()
        else:
            extensions = {line.split(" ", 1)[0].split("=", 1)[0].lower() for line in text.split("\n")[1:]}
        message = LINE_ENDINGS.sub(b"\r\n", raw)
        if not message.endswith(b"\r\n"):
            message += b"\r\n"
        await _transaction(s, mail_from, rcpt_to, message, "size" in extensions, sender, recipient)
        try:
            await s.command(b"QUIT")
        except (SMTPServerDisconnected, SMTPResponseException, SMTPTimeoutError):
            pass
    finally:
        s.close()


async def _transaction(s: _Session, mail_from: bytes, rcpt_to: bytes, message: bytes, size: bool, sender: str,
                       recipient: str) -> None:
    """MAIL, RCPT, DATA; after a refusal RSET and QUIT (their failures ignored), then the refusal."""
    try:
        code, text = await s.command(b"MAIL FROM:" + mail_from + (b" size=%d" % len(message) if size else b""))
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
