"""The site's own pages: where a signed-in user lands, the partner account, the affiliate home.

The account page is guarded by django-otp's stock `otp_required` (a partner must have passed the
code step in this session); the affiliate page only by `login_required`.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_otp import user_has_device
from django_otp.decorators import otp_required


@login_required
def landing(request: HttpRequest) -> HttpResponse:
    """LOGIN_REDIRECT_URL: partners (users with an OTP device) to the account, others to /affiliate/."""
    return redirect("account" if user_has_device(request.user) else "affiliate")


@otp_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "site/account.html", {"device": request.user.otp_device})


@login_required
def affiliate(request: HttpRequest) -> HttpResponse:
    return render(request, "site/affiliate.html")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
