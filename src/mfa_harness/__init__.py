"""mfa-harness: the one import namespace of the project, and the modules every part shares.

The repository keeps its known folders (`server/`, `fake_smtp/`, `loadtests/`, `scenarios/`,
`checker/`); `pyproject.toml` maps each to a subpackage of `mfa_harness`, so nothing generic
(`server`, `scenarios`, ...) lands in site-packages beside a user's own packages.

Shared here: `errors` (one base error with an exit code and fields), `durations` (the one
duration syntax), `cli_args` (argparse types for numbers, ports, durations and time scales),
`timebase` (wall <-> scenario time) and `harness_http` (the client of the portal's
`/_harness/...` endpoints and the inbox API).
"""
