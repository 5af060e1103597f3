"""Routes: two_factor's own login wizard, Django's stock password-reset views, three small pages.

Django's plain `auth.urls` login is deliberately not mounted: it would sign a partner in with
the password alone. Only the reset views and logout are taken from `django.contrib.auth.views`.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from two_factor.urls import urlpatterns as tf_urls

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("", include(tf_urls)),
    path("account/", views.account, name="account"),
    path("affiliate/", views.affiliate, name="affiliate"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),     # the stock reset templates link to admin:index
    path("healthz", views.healthz, name="healthz"),
]
