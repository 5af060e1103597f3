"""Target profiles: how one portal looks to the clients (paths, fields, pages, failures, mail).

A profile is a TOML file. The reference portal's profile ships as `profiles/reference.toml`
and is the default; `profiles/example-other-portal.toml` shows the shape of another portal.
Everything the personas need to know about a portal lives here, so pointing the harness at a
new portal means writing one file, not changing Python.
"""

from __future__ import annotations

import html
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .pages import marker_value

PROFILE_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = PROFILE_DIR / "reference.toml"

PATHS = ("login", "verify", "resend", "account", "forgot_password", "reset_password",
         "affiliate_login", "affiliate_dashboard", "logout")
OPTIONAL_PATHS = ("chooser", "my_account")
NONE = "none"
# Features a portal may lack (`paths.X = "none"`): scenarios needing one are refused up front.
OPTIONAL_FEATURES = ("resend", "forgot_password", "reset_password", "affiliate_login", "affiliate_dashboard")
FIELDS = ("username", "password", "code", "xsrf", "forgot_username", "new_password", "reset_token")
PAGES = ("login", "verify", "account", "affiliate_login", "affiliate_dashboard", "cookies_blocked",
         "forgot_password", "reset_password", "my_account", "chooser", "error")
REQUIRED_PAGES = ("login", "verify", "account", "affiliate_dashboard")
REASONS = ("generic_error", "wrong", "expired", "too_many", "no_challenge", "rate_limited", "bad_request",
           "bad_token")
FORMS = ("login", "verify", "resend", "forgot_password", "reset_password", "affiliate_login", "logout")
FORM_KEYS = ("field", "action", "button", "static", "confirm_field")


class ProfileError(ValueError):
    """A target profile that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FormSpec:
    """How to find one step's form on a page and what to add to it (`[forms.NAME]`).

    `action` None: the legacy rule (a form posting to the step's path, else one holding the
    field); "" a form posting to the page's own URL (empty or missing action attribute).
    `static`: fields sent as given (a radio or select value, a wizard step). `confirm_field`:
    sent with the same value as the new password (reset forms that ask twice).
    """

    field: str | None = None
    action: str | None = None
    button: str | None = None
    static: tuple[tuple[str, str], ...] = ()
    confirm_field: str | None = None

    def describe(self) -> str:
        parts = [f"field {self.field!r}"] if self.field else []
        if self.action is not None:
            parts.append("an empty/missing action" if self.action == "" else f"action {self.action!r}")
        if self.button:
            parts.append(f"button {self.button!r}")
        return ", ".join(parts) or "any form"


def _first_match(matchers: list[tuple[str | re.Pattern[str], str]], text: str) -> tuple[str, str] | None:
    """(name, how) of the first matcher found in `text`; `how` names the substring or regex."""
    for needle, name in matchers:
        if isinstance(needle, str):
            if needle in text:
                return name, f"contains {needle!r}"
        elif needle.search(text):
            return name, f"regex {needle.pattern!r}"
    return None


def decoded(text: str) -> str:
    """The page with HTML entities unescaped (`&#39;` and `&rsquo;` read as the characters)."""
    return html.unescape(text) if "&" in text else text


@dataclass
class TargetProfile:
    """The parsed profile; see `profiles/reference.toml` for every key with a comment."""

    name: str
    source: str
    paths: dict[str, str]
    fields: dict[str, str]
    page_attr: str
    pages: dict[str, str]                  # marker value -> page name
    page_contains: list[tuple[Any, str]]   # (substring or regex, page name), for portals without markers
    reason_attr: str
    reasons: dict[str, str]                # marker value -> reason
    reason_contains: list[tuple[Any, str]]
    ref_attr: str
    code_regex: re.Pattern[str]
    ref_regex: re.Pattern[str] | None
    reset_link_regex: re.Pattern[str] | None
    code_subject: str
    reset_subject: str
    code_query: str = ""
    reset_query: str = ""
    retry_after_scenario_header: str = "X-Retry-After-Scenario"
    extra: dict[str, Any] = field(default_factory=dict)
    forms: dict[str, FormSpec] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)   # the target's policy ([policy]); see scenarios/probe.py
    stat_names: list[tuple[re.Pattern[str], str]] = field(default_factory=list)   # path pattern -> stats name

    def stat_name(self, path: str) -> str:
        """Locust's stats name of a path: the first `stat_names` pattern it fits (`/reset/{token}`),
        so one row per pattern instead of one per token, else the path itself."""
        for rx, name in self.stat_names:
            if rx.fullmatch(path):
                return name
        return path

    @property
    def codes_repeat(self) -> bool:
        """Whether the target's policy lets one code open several logins (time-based codes, a device's
        pending code): `policy.codes_repeat`, or `code_single_use = false`. Unsaid: codes are per login."""
        if "codes_repeat" in self.policy:
            return bool(self.policy["codes_repeat"])
        return self.policy.get("code_single_use") is False

    def has(self, feature: str) -> bool:
        """Whether the portal has this path (False for `paths.X = "none"`)."""
        return self.paths.get(feature, NONE) != NONE

    def form(self, name: str) -> FormSpec | None:
        return self.forms.get(name)

    def page_match(self, text: str) -> tuple[str, str] | None:
        """(page name, how it was recognised) or None: the marker first, then substrings/regexes
        on the decoded text, in profile order."""
        value = marker_value(text, self.page_attr)
        if value is not None and value in self.pages:
            return self.pages[value], f"{self.page_attr}={value!r}"
        return _first_match(self.page_contains, decoded(text)) if self.page_contains else None

    def reason_match(self, text: str) -> tuple[str, str] | None:
        value = marker_value(text, self.reason_attr)
        if value is not None:
            return self.reasons.get(value, value), f"{self.reason_attr}={value!r}"
        return _first_match(self.reason_contains, decoded(text)) if self.reason_contains else None

    def page_of(self, text: str) -> str | None:
        """Which page `text` is (the internal page name), or None when unknown. Per request: a
        marker is looked up without building `page_match`'s description, which only a probe reads."""
        value = marker_value(text, self.page_attr)
        if value is not None and value in self.pages:
            return self.pages[value]
        m = self.page_match(text)
        return m[0] if m else None

    def reason_of(self, text: str) -> str | None:
        """The failure/notice reason shown on `text` (internal reason name), or None (as `page_of`)."""
        value = marker_value(text, self.reason_attr)
        if value is not None:
            return self.reasons.get(value, value)
        m = self.reason_match(text)
        return m[0] if m else None

    def ref_of(self, text: str) -> str | None:
        """The challenge reference a verify page shows, or None."""
        value = marker_value(text, self.ref_attr)
        if value:
            return value
        if self.ref_regex is not None:
            m = self.ref_regex.search(text)
            if m:
                return m.group(1) if m.groups() else m.group(0)
        return None

    def code_in(self, text: str) -> str | None:
        m = self.code_regex.search(text)
        if not m:
            return None
        return m.group(1) if m.groups() else m.group(0)

    def mail_ref_in(self, text: str) -> str | None:
        if self.ref_regex is None:
            return None
        m = self.ref_regex.search(text)
        if not m:
            return None
        return m.group(1) if m.groups() else m.group(0)


def _table(data: dict[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
    value = data.get(key, None)
    if value is None:
        if required:
            raise ProfileError(f"{where}: missing table [{key}]")
        return {}
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: [{key}] must be a table")
    return value


def _strings(table: dict[str, Any], where: str, section: str, known: tuple[str, ...],
             required: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if key not in known:
            raise ProfileError(f"{where}: unknown key {section}.{key} (known: {', '.join(known)})")
        if not isinstance(value, str) or not value:
            raise ProfileError(f"{where}: {section}.{key} must be a non-empty string, got {value!r}")
        out[key] = value
    missing = [k for k in required if k not in out]
    if missing:
        raise ProfileError(f"{where}: missing {', '.join(section + '.' + k for k in missing)}")
    return out


def _regex(value: Any, where: str, key: str, required: bool) -> re.Pattern[str] | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{where}: {key} must be a non-empty regular expression string")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ProfileError(f"{where}: {key} is not a valid regular expression: {exc}") from None


def _marker_map(table: dict[str, Any], where: str, section: str, known: tuple[str, ...]) -> dict[str, str]:
    """`name = "marker"` lines, inverted to marker -> name."""
    out: dict[str, str] = {}
    for name, marker in table.items():
        if name in ("attr", "contains", "regex"):
            continue
        if name not in known:
            raise ProfileError(f"{where}: unknown {section} name {name!r} (known: {', '.join(known)})")
        if not isinstance(marker, str) or not marker:
            raise ProfileError(f"{where}: {section}.{name} must be a non-empty string")
        out[marker] = name
    return out


def _contains(table: dict[str, Any], where: str, section: str, known: tuple[str, ...]) -> list[tuple[Any, str]]:
    """`[S.contains]` name = "substring" or ["several", "substrings"], then `[S.regex]` name = "regex"
    (or a list): matched on the decoded page text, in file order, contains before regex."""
    out: list[tuple[Any, str]] = []
    for sub in ("contains", "regex"):
        raw = table.get(sub, {})
        if not isinstance(raw, dict):
            raise ProfileError(f"{where}: {section}.{sub} must be a table of name = \"text\" or [\"text\", ...]")
        for name, needles in raw.items():
            if name not in known:
                raise ProfileError(f"{where}: unknown {section}.{sub} name {name!r} (known: {', '.join(known)})")
            items = needles if isinstance(needles, list) else [needles]
            if not items or not all(isinstance(n, str) and n for n in items):
                raise ProfileError(f"{where}: {section}.{sub}.{name} must be a non-empty string or list of them")
            for needle in items:
                if sub == "regex":
                    needle = _regex(needle, where, f"{section}.regex.{name}", True)
                out.append((needle, name))
    return out


def _forms(data: dict[str, Any], where: str) -> dict[str, FormSpec]:
    """`[forms.NAME]` tables (see FormSpec); `[extra.forms]` of older drafts is read the same way."""
    raw = data.get("forms", (data.get("extra") or {}).get("forms", {}))
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: [forms] must be a table of [forms.NAME] tables")
    out = {}
    for name, spec in raw.items():
        if name not in FORMS:
            raise ProfileError(f"{where}: unknown form forms.{name} (known: {', '.join(FORMS)})")
        if not isinstance(spec, dict):
            raise ProfileError(f"{where}: forms.{name} must be a table")
        spec = dict(spec)
        if "find_by_field" in spec:                          # the drafts' spelling
            spec["field"] = spec.pop("find_by_field")
        spec.pop("method", None)
        spec.pop("page", None)
        for key, value in spec.items():
            if key not in FORM_KEYS:
                raise ProfileError(f"{where}: unknown key forms.{name}.{key} (known: {', '.join(FORM_KEYS)})")
            if key == "static":
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    raise ProfileError(f"{where}: forms.{name}.static must be a table of field = \"value\"")
            elif not isinstance(value, str) or (not value and key != "action"):
                raise ProfileError(f"{where}: forms.{name}.{key} must be a non-empty string")
        out[name] = FormSpec(field=spec.get("field"), action=spec.get("action"), button=spec.get("button"),
                             static=tuple((spec.get("static") or {}).items()),
                             confirm_field=spec.get("confirm_field"))
    return out


def _policy(data: dict[str, Any], where: str) -> dict[str, Any]:
    """`[policy]` (or the drafts' `[extra.policy]`): numbers, booleans, "none" or descriptive strings."""
    raw = data.get("policy", (data.get("extra") or {}).get("policy", {}))
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: [policy] must be a table")
    clock = raw.get("clock_scale")
    if clock is not None and clock != "harness" and (isinstance(clock, bool) or not isinstance(clock, int | float)
                                                      or clock <= 0):
        raise ProfileError(f"{where}: policy.clock_scale must be a number > 0 or \"harness\", got {clock!r}")
    retry = raw.get("mail_retry_within_s", "none")
    if retry != "none" and (isinstance(retry, bool) or not isinstance(retry, int | float) or retry < 0):
        raise ProfileError(f"{where}: policy.mail_retry_within_s must be a number >= 0 (seconds) or \"none\", "
                           f"got {retry!r}")
    return dict(raw)


def _stat_names(data: dict[str, Any], where: str) -> list[tuple[re.Pattern[str], str]]:
    """`stat_names = ["/reset/{uidb64}/set-password/", "/reset/{token}"]`: `{x}` is one path segment."""
    raw = data.get("stat_names", [])
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.startswith("/") for x in raw):
        raise ProfileError(f"{where}: stat_names must be a list of path patterns starting with '/'")
    out = []
    for pattern in raw:
        parts = re.split(r"\{[A-Za-z_][A-Za-z0-9_]*\}", pattern)
        out.append((re.compile("[^/]+".join(re.escape(p) for p in parts)), pattern))
    return out


def profile_from_dict(data: dict[str, Any], source: str = "<profile>") -> TargetProfile:
    """Validate a parsed TOML profile; every problem is a ProfileError naming the key."""
    where = source
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{where}: name must be a non-empty string")
    paths = _strings(_table(data, "paths", where), where, "paths", PATHS + OPTIONAL_PATHS, PATHS)
    for key, value in paths.items():
        if value == NONE and key in OPTIONAL_FEATURES:
            continue
        if not value.startswith("/"):
            hint = f" or be \"none\" (the portal has no {key})" if key in OPTIONAL_FEATURES else ""
            raise ProfileError(f"{where}: paths.{key} must start with '/'{hint}, got {value!r}")
    fields_ = _strings(_table(data, "fields", where), where, "fields", FIELDS, ("username", "password", "code"))
    fields_.setdefault("xsrf", "_xsrf")
    fields_.setdefault("forgot_username", fields_["username"])
    fields_.setdefault("new_password", "new_password")
    fields_.setdefault("reset_token", "token")
    pages_t = _table(data, "pages", where)
    page_attr = pages_t.get("attr", "")
    if not isinstance(page_attr, str):
        raise ProfileError(f"{where}: pages.attr must be a string (the attribute naming the page)")
    pages = _marker_map(pages_t, where, "pages", PAGES)
    page_contains = _contains(pages_t, where, "pages", PAGES)
    known_pages = set(pages.values()) | {p for _, p in page_contains}
    missing = [p for p in REQUIRED_PAGES if p not in known_pages]
    if missing:
        raise ProfileError(f"{where}: [pages] must say how to recognise: {', '.join(missing)}")
    if pages and not page_attr:
        raise ProfileError(f"{where}: pages.attr is required when pages are recognised by marker values")
    reasons_t = _table(data, "reasons", where)
    reason_attr = reasons_t.get("attr", "")
    if not isinstance(reason_attr, str):
        raise ProfileError(f"{where}: reasons.attr must be a string")
    reasons = _marker_map(reasons_t, where, "reasons", REASONS)
    reason_contains = _contains(reasons_t, where, "reasons", REASONS)
    mail = _table(data, "mail", where)
    code_regex = _regex(mail.get("code_regex"), where, "mail.code_regex", True)
    assert code_regex is not None
    ref_attr = mail.get("ref_attr", "")
    if not isinstance(ref_attr, str):
        raise ProfileError(f"{where}: mail.ref_attr must be a string")
    header = data.get("retry_after_scenario_header", "X-Retry-After-Scenario")
    return TargetProfile(
        name=name, source=source, paths=paths, fields=fields_, page_attr=page_attr, pages=pages,
        page_contains=page_contains, reason_attr=reason_attr, reasons=reasons, reason_contains=reason_contains,
        ref_attr=ref_attr, code_regex=code_regex,
        ref_regex=_regex(mail.get("ref_regex"), where, "mail.ref_regex", False),
        reset_link_regex=_regex(mail.get("reset_link_regex"), where, "mail.reset_link_regex", False),
        code_subject=str(mail.get("code_subject", "")), reset_subject=str(mail.get("reset_subject", "")),
        code_query=str(mail.get("code_query", "")), reset_query=str(mail.get("reset_query", "")),
        retry_after_scenario_header=str(header), extra=dict(data.get("extra", {})),
        forms=_forms(data, where), policy=_policy(data, where), stat_names=_stat_names(data, where),
    )


def load_profile(path: str | Path | None = None) -> TargetProfile:
    """Read and validate a profile file (default: the reference portal's)."""
    p = Path(path) if path else DEFAULT_PROFILE
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read target profile {p}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"target profile {p} is not valid TOML: {exc}") from None
    return profile_from_dict(data, str(p))
