"""The MIME parser's limits: deep nesting is kept raw with a note, never an exception or a 500."""

from __future__ import annotations

from collections.abc import Callable

from fake_smtp_helpers import InboxProcess
from mime_samples import many_parts, nested_multiparts

from mfa_harness.fake_smtp import mime
from mfa_harness.fake_smtp.mime_limits import MAX_DEPTH, needs_worker


def test_deep_nesting_is_kept_raw_with_a_note() -> None:
    raw = nested_multiparts(1000)
    s = mime.summarize(raw)
    assert s.note and "nested deeper" in s.note
    assert s.subject == "deep" and s.to == [{"Name": "", "Address": "deep@y.example"}]
    assert s.text.startswith("--b0\r\n")  # the raw body is what search sees (its first 16 K characters)
    view = mime.full_view(raw)
    assert view["Note"] == s.note and view["HTML"] == "" and view["Attachments"] == []
    assert view["Text"].startswith("--b0\r\n") and "Your code: 123456" in view["Text"]
    assert mime.headers(raw)["Subject"] == ["deep"]
    assert mime.part(raw, "1") is None


def test_nesting_up_to_the_limit_still_parses() -> None:
    raw = nested_multiparts(MAX_DEPTH - 1)
    view = mime.full_view(raw)
    assert view["Note"] == "" and "Your code: 123456" in view["Text"]
    assert mime.summarize(raw).note == ""
    assert mime.part(raw, ".".join(["1"] * (MAX_DEPTH - 1))) == ("text/plain", b"Your code: 123456")
    assert mime.summarize(nested_multiparts(MAX_DEPTH)).note  # one level more is refused


def test_worker_decision_counts_parts_not_only_bytes() -> None:
    small_many = many_parts(3500)
    assert len(small_many) < 256 * 1024 and needs_worker(small_many)
    assert needs_worker(nested_multiparts(200))
    assert not needs_worker(many_parts(5)) and not needs_worker(b"Subject: x\r\n\r\n" + b"y" * 100_000)
    assert needs_worker(b"Subject: x\r\n\r\n" + b"y" * 300_000)


def test_deep_message_over_smtp_is_served_raw_with_a_note(inbox: InboxProcess,
                                                          addr: Callable[[str], str]) -> None:
    to = addr("deep")
    raw = nested_multiparts(1000).replace(b"deep@y.example", to.encode())
    with inbox.smtp() as s:
        s.sendmail("a@x.example", [to], raw)
    found = inbox.wait(f"to:{to}", timeout=30)
    assert found.status == 200 and found.json()["Subject"] == "deep"
    mid = found.json()["ID"]
    r = inbox.get(f"/api/v1/message/{mid}")
    assert r.status == 200, r.body[:300]
    assert "nested deeper" in r.json()["Note"] and "Your code: 123456" in r.json()["Text"]
    assert inbox.get(f"/api/v1/message/{mid}/headers").json()["Subject"] == ["deep"]
    assert inbox.get(f"/api/v1/message/{mid}/part/1").status == 404
    assert inbox.get(f"/api/v1/message/{mid}/raw").body == raw
    assert inbox.get(f"/?id={mid}").status == 200


def test_a_header_the_stdlib_header_parser_crashes_on_is_read_raw() -> None:
    raw = b"From:\x80<\r\n" + "To: x@y.example\r\nSubject: Grüße\r\n\r\ncode: 654321\r\n".encode()
    s = mime.summarize(raw)                  # the modern policy raises IndexError on that From value
    assert s.note == "" and s.subject == "Grüße" and s.to == [{"Name": "", "Address": "x@y.example"}]
    assert "654321" in s.text and mime.full_view(raw)["Note"] == ""
