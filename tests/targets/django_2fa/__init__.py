"""A minimal Django site: django-two-factor-auth with django-otp's email device, stock views.

Run `python -m tests.targets.django_2fa --help` from the repository root; see ../README.md.
"""
