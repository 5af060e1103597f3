"""mfa-harness: the one import namespace of the project, and the modules every part shares.

Shared here: `durations` (the one duration syntax), `cli_args` (argparse types for numbers,
ports, durations and time scales), `timebase` (wall <-> scenario time) and `harness_http`
(the client of the portal's `/_harness/...` endpoints and the inbox API).
"""
