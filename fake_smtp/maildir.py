"""Maildir persistence: the inbox in ``PATH`` and the spam folder in ``PATH/.Spam``.

Real Maildir (any mail tool reads it): each message is written to ``tmp/`` and renamed
into ``new/``; reading a message moves it to ``cur/`` with the ``S`` (seen) flag.  Our own
metadata (Seq, ID, envelope, times, code) travels in one first header line,
``X-Fake-SMTP-Meta: {json}``, which is stripped again on reload, so ``/raw`` is the same
before and after a restart and Seq continues after the highest one found.

Accepted mail that a fault holds back lives in ``PATH/.Pending`` from the moment it is
accepted until it is visible, so a kill -9 loses nothing that was answered 250.  A file
that cannot be loaded at start (unreadable, corrupt metadata) is moved to
``PATH/.Quarantine`` instead of stopping the inbox.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

META = b"X-Fake-SMTP-Meta: "
SUBDIRS = ("tmp", "new", "cur")
FOLDER_DIRS = {"inbox": "", "spam": ".Spam"}
PENDING_DIR = ".Pending"  # accepted, not yet visible (delay/reorder faults)
QUARANTINE_DIR = ".Quarantine"  # files that could not be loaded at start


@dataclass(slots=True)
class Loaded:
    meta: dict[str, Any]
    raw: bytes
    path: str
    read: bool
    error: str = ""  # why the file cannot be loaded ("" when it can)


class Maildir:
    """Writes, flags, deletes and reloads messages in a Maildir tree."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
        self._counter = 0
        for folder in [*FOLDER_DIRS.values(), PENDING_DIR]:
            for sub in SUBDIRS:
                os.makedirs(os.path.join(self.root, folder, sub), exist_ok=True)

    def _dir(self, folder: str, sub: str) -> str:
        return os.path.join(self.root, FOLDER_DIRS.get(folder, PENDING_DIR), sub)

    def save(self, raw: bytes, meta: dict[str, Any], folder: str) -> str:
        """Write a message (tmp, then rename into new); returns its path."""
        self._counter += 1
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{self._counter}S{meta['seq']}.{self.host}"
        tmp = os.path.join(self._dir(folder, "tmp"), name)
        header = META + json.dumps(meta, ensure_ascii=True, separators=(",", ":")).encode() + b"\r\n"
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(raw)
        final = os.path.join(self._dir(folder, "new"), name)
        os.rename(tmp, final)
        return final

    def set_read(self, path: str, folder: str, read: bool) -> str:
        """Move to cur/ with ``:2,S`` when read, back to new/ when unread; returns the new path."""
        base = os.path.basename(path).split(":2,")[0]
        target = (os.path.join(self._dir(folder, "cur"), base + ":2,S") if read
                  else os.path.join(self._dir(folder, "new"), base))
        if target != path:
            os.rename(path, target)
        return target

    def delete(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return

    def save_pending(self, raw: bytes, meta: dict[str, Any]) -> str:
        """Keep a held (not yet visible) message across a restart."""
        return self.save(raw, meta, "pending")

    def pending(self) -> list[Loaded]:
        """The accepted messages that were still held when the inbox last stopped (or died)."""
        return list(self._read_dir("pending"))

    def quarantine(self, path: str) -> str | None:
        """Move a file that cannot be loaded to ``PATH/.Quarantine/new``; its new path, or None."""
        target_dir = os.path.join(self.root, QUARANTINE_DIR, "new")
        try:
            for sub in SUBDIRS:
                os.makedirs(os.path.join(self.root, QUARANTINE_DIR, sub), exist_ok=True)
            target = os.path.join(target_dir, os.path.basename(path))
            os.rename(path, target)
        except OSError:
            return None
        return target

    def _read_dir(self, folder: str) -> Iterator[Loaded]:
        for sub in ("new", "cur"):
            d = self._dir(folder, sub)
            for name in sorted(os.listdir(d)):
                yield self._read_file(os.path.join(d, name), folder)

    @staticmethod
    def _read_file(path: str, folder: str) -> Loaded:
        name = os.path.basename(path)
        flags = name.split(":2,")[1] if ":2," in name else ""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            return Loaded({}, b"", path, False, f"cannot read: {exc.strerror or exc}")
        meta: Any = {}
        if data.startswith(META):
            end = data.find(b"\r\n")
            try:
                meta = json.loads(data[len(META):end])
            except ValueError:
                return Loaded({}, data, path, False, "X-Fake-SMTP-Meta is not valid JSON")
            if not isinstance(meta, dict):
                return Loaded({}, data, path, False, "X-Fake-SMTP-Meta is not a JSON object")
            data = data[end + 2:]
        if folder in FOLDER_DIRS:
            meta["folder"] = folder
        return Loaded(meta, data, path, "S" in flags)

    def load(self) -> Iterator[Loaded]:
        """Every stored message of both folders (order not defined; sort by meta seq).

        Files written by other tools (no meta header) are loaded too, as new messages.
        """
        for folder in FOLDER_DIRS:
            yield from self._read_dir(folder)
