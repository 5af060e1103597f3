"""Page markers, forms, redirect chains and loop detection (pure code)."""

from __future__ import annotations

from mfa_harness.loadtests.pages import _FormParser, find_form, form_slices, marker_value, parse_forms
from mfa_harness.loadtests.redirects import MAX_HOPS, Chain, LoopWatch, path_only, resolve

VERIFY_PAGE = """<!doctype html><html><body data-page="partner-verify">
<p class="error" role="alert" data-reason="wrong">That code is not right.</p>
<p>Reference <span data-ref="AB12CD34">AB12CD34</span></p>
<form method="post" action="/partner/verify">
<input type="hidden" name="_xsrf" value="2|abc|def|123">
<input id="code" name="code" type="text">
<button type="submit">Verify</button></form>
<form method="post" action="/partner/verify/resend"><input type="hidden" name="_xsrf" value="2|x|y|z">
<button type="submit">Send another code</button></form></body></html>"""


def test_marker_value_reads_the_first_attribute_without_parsing() -> None:
    assert marker_value(VERIFY_PAGE, "data-page") == "partner-verify"
    assert marker_value(VERIFY_PAGE, "data-reason") == "wrong"
    assert marker_value(VERIFY_PAGE, "data-ref") == "AB12CD34"
    assert marker_value(VERIFY_PAGE, "data-missing") is None
    assert marker_value('<p data-page="unterminated', "data-page") is None
    assert marker_value(VERIFY_PAGE, "") is None


def test_forms_carry_their_hidden_xsrf_and_are_found_by_action_or_field() -> None:
    forms = parse_forms(VERIFY_PAGE)
    assert [f.action for f in forms] == ["/partner/verify", "/partner/verify/resend"]
    verify = find_form(forms, action="/partner/verify")
    assert verify is not None and verify.fields == {"_xsrf": "2|abc|def|123"} and "code" in verify.inputs
    resend = find_form(forms, action="/partner/verify/resend?x=1")
    assert resend is not None and resend.fields["_xsrf"] == "2|x|y|z"
    assert find_form(forms, action="/elsewhere", field_name="code") is verify
    assert find_form(forms, action="/elsewhere") is None
    assert find_form(parse_forms("<p>no forms</p>"), action="/partner/verify") is None


def _whole_page_forms(text: str, convert_charrefs: bool = False) -> list:
    parser = _FormParser()
    parser.convert_charrefs = convert_charrefs      # True: how text was read before (issue 15)
    parser.feed(text)
    parser.close()
    return parser.forms


def test_forms_from_the_slices_equal_a_whole_page_parse() -> None:
    pages = [
        VERIFY_PAGE,
        VERIFY_PAGE.replace("<form", "<FORM").replace("</form>", "</FORM >"),
        '<head><style>p{}</style></head><body><input name="outside" type="hidden" value="x">'
        '<form action="/a" method="POST"><input type="hidden" name="_xsrf" value="1&amp;2">'
        "<select name=s></select><textarea name=t>&lt;/form&gt;</textarea></form><p>after</p>",
        '<form action="/unclosed"><input type=hidden name=_xsrf value=tok><input name=u>',
        '<p>İstanbul</p><form action="/wide"><input type=hidden name=_xsrf value=w></form>',
        "<p>no forms</p>",
    ]
    pages.append('<form action="/e&amp;x"><input type=hidden name=t value="&lt;a&gt; &#38; &eacute;">'
                 "<p>caf&eacute; &amp; text</p></form>")
    for page in pages:
        assert parse_forms(page) == _whole_page_forms(page) == _whole_page_forms(page, True), page
    assert parse_forms(pages[2])[0].fields == {"_xsrf": "1&2"}
    assert parse_forms(pages[-1])[0].fields == {"t": "<a> & é"} and parse_forms(pages[-1])[0].action == "/e&x"
    assert len(form_slices(VERIFY_PAGE)) == 2 and all(x.startswith("<form") for x in form_slices(VERIFY_PAGE))
    assert form_slices("<p>none</p>") == []


def test_resolve_keeps_paths_and_queries_and_flags_other_origins() -> None:
    assert resolve("http://127.0.0.1:8080/partner/login", "/partner/verify?c=1") == "/partner/verify?c=1"
    assert resolve("http://127.0.0.1:8080/partner/verify", "account") == "/partner/account"
    assert resolve("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b") == "/b"
    assert resolve("http://127.0.0.1:8080/a", "https://evil.example/b") == "https://evil.example/b"
    assert path_only("/partner/verify?c=1") == "/partner/verify"


def test_a_chain_revisiting_a_url_or_running_too_long_is_a_loop() -> None:
    chain = Chain()
    assert not chain.add("/partner/verify") and not chain.add("/partner/account")
    assert chain.add("/partner/verify") and chain.looped and chain.revisited == "/partner/verify"
    # a form post redirected once straight back to its own URL is the form again (post/redirect/get)
    prg = Chain()
    assert not prg.add("/login") and not prg.add("/login", form_again=True) and not prg.looped
    assert prg.add("/login", form_again=True) and prg.revisited == "/login"     # but not twice
    cycle = Chain()
    assert not cycle.add("/partner/verify") and not cycle.add("/partner/account", form_again=True)
    assert cycle.add("/partner/verify", form_again=True)                     # a cycle back to it is a loop
    long = Chain()
    for i in range(MAX_HOPS + 1):
        assert not long.add(f"/hop/{i}")
    assert long.too_long and long.looped and long.revisited is None


def test_the_login_form_soon_after_a_verify_is_a_loop_and_later_is_not() -> None:
    watch = LoopWatch(window_s=2.0)
    assert not watch.back_at_login(100.0)               # no verify yet: a normal sign-in
    watch.verified(100.0)
    assert watch.back_at_login(101.5)
    assert not watch.back_at_login(102.5)               # past the window: the session simply ended
    watch.reset()
    assert not watch.back_at_login(100.5)


def test_filling_in_one_form_parses_only_its_slice_and_finds_what_a_whole_parse_finds() -> None:
    """Issue 15: a form is filled in from its own slice (one html.parser pass over it, not the page's)."""
    from mfa_harness.loadtests.portal_client import PortalResult

    only = parse_forms(VERIFY_PAGE, action="/partner/verify/resend")
    assert [f.action for f in only] == ["/partner/verify/resend"]
    # "/partner/verify" is also a prefix of the resend form's action: only the form it names is parsed
    assert [f.action for f in parse_forms(VERIFY_PAGE, action="/partner/verify")] == ["/partner/verify"]
    entity = '<form action="&#47;a/x"><input type=hidden name=_xsrf value=e></form><form action="/a"></form>'
    pages = [VERIFY_PAGE, entity, VERIFY_PAGE.replace('action="/partner/verify"', "action='/partner/verify?x=1'"),
             '<form action="/b" title="a>b"><input type=hidden name=k value=v></form>', "<p>none</p>",
             '<form data-x="/a" action=/a/x><input type=hidden name=k value=u></form><form action=/a></form>',
             "<form action='/a/x?q=1' method=post><input type=hidden name=_xsrf value=q></form>"]
    for page in pages:
        for action in ("/partner/verify", "/partner/verify/resend", "/a/x", "/a", "/b", "/none"):
            whole = find_form(_whole_page_forms(page), action=action)
            assert PortalResult(200, "/", page, []).form_for(action) == whole, (page, action)
    assert PortalResult(200, "/", entity, []).form_for("/a/x").fields == {"_xsrf": "e"}


DJANGO_CODE_PAGE = """<form action="" method="post"><input type="hidden" name="csrfmiddlewaretoken" value="tok">
<input type="hidden" name="login_view-current_step" value="token"><input name="token-otp_token">
<button type="submit" name="wizard_goto_step" value="auth">Back</button><button type="submit">Next</button></form>
<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="t2"><input name="email"></form>
<form action="/logout/" method="post"><input type="hidden" name="csrfmiddlewaretoken" value="t3"></form>"""


def test_forms_are_found_by_field_empty_action_or_button_with_every_hidden_input() -> None:
    forms = parse_forms(DJANGO_CODE_PAGE)
    code = find_form(forms, action="", field_name="token-otp_token")
    assert code is forms[0] and code.fields == {"csrfmiddlewaretoken": "tok", "login_view-current_step": "token"}
    assert code.buttons == [("wizard_goto_step", "auth"), ("", "")] and code.has_action
    assert find_form(forms, action="", field_name="email") is forms[1] and not forms[1].has_action
    assert find_form(forms, action="", field_name="nope") is None
    assert find_form(forms, action="", button="auth") is forms[0]
    assert find_form(forms, action="/logout/", field_name="csrfmiddlewaretoken", strict=True) is forms[2]
    # strict: every criterion must hold (the legacy rule would fall back to the action alone)
    assert find_form(forms, action="/logout/", field_name="email", strict=True) is None
    assert find_form(forms, action="/logout/", field_name="email") is forms[2]
