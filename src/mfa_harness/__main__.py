"""`python -m mfa_harness ...` is the `mfa-harness` command."""

from mfa_harness.scenarios.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
