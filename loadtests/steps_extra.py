"""Client steps beyond the login flow: password recovery, and the probes of `probers.py`.

A mixin of `steps.Steps` (which owns the account, browser, inbox reader and history these
use), kept apart so each module stays one screenful per job. Every step is one operation in
the history, with the values the checker reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .inbox_client import Mail

if TYPE_CHECKING:
    from .history import Recorder
    from .inbox_client import InboxClient
    from .portal_client import PortalClient
    from .steps import FlowState


class ExtraSteps:
    """Password recovery and probing steps (see the module docstring)."""

    h: Any
    account: Any
    rec: Recorder
    portal: PortalClient
    inbox: InboxClient
    password: str

    profile: Any

    if TYPE_CHECKING:
        def mail_query(self, extra: str | None, ref: str | None = None) -> str: ...

    # ---- password recovery ---------------------------------------------------------------------
    def forgot_password(self, fs: FlowState) -> bool:
        """Ask for a reset link; True when the portal took the request (`fs.after_seq`: the inbox
        Seq before it, so the link mail is read from there)."""
        p = self.profile
        after = self.inbox.current_seq()
        with self.rec.op("forgot_password", {}) as op:
            form = self.portal.get(p.paths["forgot_password"])
            res = self.portal.submit(form, p.paths["forgot_password"],
                                     {p.fields["forgot_username"]: self.account.username}, step="forgot_password")
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return False
            if res.status >= 400:
                op.fail({"reason": res.reason or "error", "status": res.status})
                return False
            op.ok({"landed": res.path})
        fs.after_seq = after
        return True

    def reset_password(self, mail: Mail, new_password: str) -> bool:
        """Follow the emailed link and set `new_password`; True (and it is this user's password
        from now on) when the portal sent the user back to sign in."""
        p = self.profile
        link = p.reset_link_regex.search(self.inbox.text(mail.api_id)) if p.reset_link_regex else None
        with self.rec.op("reset_password", {"link_found": link is not None}) as op:
            if link is None:
                op.fail({"reason": "no_link"})
                return False
            page = self.portal.get(link.group(1) if link.groups() else link.group(0))
            res = self.portal.submit(page, p.paths["reset_password"], {p.fields["new_password"]: new_password},
                                     step="reset_password", confirm=new_password)
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return False
            if res.page != "login":
                op.fail({"reason": res.reason or "error", "status": res.status, "landed": res.path, "page": res.page,
                         **res.unclassified()})
                return False
            op.ok({"landed": res.path, "page": res.page})
        self.password = new_password
        return True

    # ---- probes --------------------------------------------------------------------------------
    def teammate_code(self, before_seq: int) -> Mail | None:
        """The newest code mail to this account's address that predates this login."""
        query = self.mail_query(self.profile.code_query)
        with self.rec.op("read_code", {"query": query, "before_seq": before_seq, "source": "teammate"}) as op:
            mail = self.inbox.newest_before(query, before_seq)
            if mail is None:
                op.fail({"reason": "none"})
                return None
            op.ok({"code": mail.code, "seq": mail.seq, "message_id": mail.message_id, "folder": mail.folder,
                   "ref": mail.ref})
            return mail

    def reuse_session(self) -> None:
        """Open the account page with whatever session cookie the browser holds (after a logout)."""
        p = self.profile
        with self.rec.op("access_account", {"path": p.paths["account"], "after_logout": True}) as op:
            res = self.portal.get(p.paths["account"])
            if res.error:
                op.info({"reason": "connection", "error": res.error})
            elif res.page == "account":
                op.ok({"status": res.status, "page": res.page, "after_logout": True})
            else:
                op.fail({"landed": res.path, "page": res.page, "status": res.status, **res.unclassified()})

    def visit(self, path: str) -> None:
        """GET a protected path while the login is pending; records whether it looked signed in."""
        with self.rec.op("visit", {"path": path, "pending": True}) as op:
            res = self.portal.get(path)
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return
            op.ok({"page": res.page, "status": res.status, "landed": res.path,
                   "signed_in": res.page in ("account", "my_account")})
