"""The words of the portal's pages: error messages, wait times and masked addresses."""

from __future__ import annotations

MESSAGES = {
    "generic_login": "The username or password is not correct, or this account cannot sign in here.",
    "wrong": "That code is not correct. Check the latest email and try again.",
    "expired": "That code has expired. Ask for a new code, or sign in again.",
    "too_many": "Too many wrong codes. Please sign in again to get a new code.",
    "no_challenge": "There is no sign-in waiting for a code. Please sign in again.",
    "rate_limited": "Please wait before asking for another code.",
    "bad_request": "The request could not be understood.",
    "bad_token": "This password reset link is invalid, expired or already used.",
}


def wait_text(seconds: int) -> str:
    """'45 s' or '2 min 5 s': how long a person has to wait."""
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def mask(address: str) -> str:
    """j***@example.com: enough for a user to recognise the inbox, not to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


