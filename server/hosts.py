"""Which Host headers the portal answers, and the public URL its emails link to.

Reset links are built from `--public-url` (default: the listening address), never from a
request's Host, so `Host: attacker.example` cannot make the portal mail a link to another
site. And a request whose Host is not the portal's own (its loopback names and addresses, the
listening host, the public URL's host) is refused with 421 before any handler runs: a page of
another site that a DNS-rebinding attack points at 127.0.0.1 cannot read `/_harness/*` (plaintext
passwords) or drive the login pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
UNSPECIFIED = frozenset({"", "0.0.0.0", "::"})


class PublicUrlError(ValueError):
    """A `--public-url` that cannot be the base of a link; the message says why."""


def parse_public_url(text: str) -> str:
    """`http(s)://host[:port][/prefix]`, without a trailing slash; raises PublicUrlError."""
    try:
        parts = urlsplit(text.strip())
        _ = parts.port  # raises for a port that is not a number or out of range
    except ValueError as exc:
        raise PublicUrlError(f"--public-url {text!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublicUrlError(f"--public-url {text!r}: give http(s)://HOST[:PORT][/PATH]")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise PublicUrlError(f"--public-url {text!r}: no query, fragment or user info")
    return text.strip().rstrip("/")


def listening_url(host: str, port: int) -> str:
    """The URL of a listening address, as the ready line shows it."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def split_host(header: str) -> tuple[str, int | None]:
    """`[::1]:8080` -> ('::1', 8080); `LocalHost.` -> ('localhost', None); port -1 if unreadable."""
    value = header.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ("" if not rest else "x")
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    else:
        name, port_text = value, ""
    if not port_text:
        return name.rstrip("."), None
    return name.rstrip("."), int(port_text) if port_text.isdigit() else -1


@dataclass(frozen=True)
class HostRule:
    """Host names and ports this portal is reached under; ports None: any (in-process tests)."""

    names: frozenset[str]
    ports: frozenset[int] | None

    def allows(self, header: str) -> bool:
        name, port = split_host(header)
        if name not in self.names:
            return False
        return port is None or self.ports is None or port in self.ports

    def describe(self) -> str:
        return ", ".join(sorted(self.names))


def host_rule(listen_host: str, port: int | None, public_url: str | None) -> HostRule:
    """Loopback names, the listening host (unless 0.0.0.0 / ::) and the public URL's host."""
    names = set(LOOPBACK_NAMES)
    ports = None if port is None else {port}
    if listen_host.lower() not in UNSPECIFIED:
        names.add(listen_host.strip("[]").lower())
    if public_url:
        parts = urlsplit(public_url)
        names.add((parts.hostname or "").lower())
        if ports is not None:
            ports.add(parts.port or (443 if parts.scheme == "https" else 80))
    return HostRule(frozenset(names), None if ports is None else frozenset(ports))
