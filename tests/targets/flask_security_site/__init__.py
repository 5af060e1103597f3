"""A minimal Flask-Security-Too site: email two-factor, recoverable, stock templates and views.

The folder is not called `flask_security`: pytest puts tests/targets on sys.path, where a
folder of that name would hide the library itself. Run `python -m tests.targets.flask_security_site
--help` from the repository root; see ../README.md.
"""
