"""Benchmarks of the harness against the floor each part sits on (issue 6).

Every figure is a ratio of two things measured in the same run on the same machine, in
alternating A/B rounds, median of at least five, because these machines are shared and
noisy; memory is reported absolutely. ``python -m bench [NAME ...] [--size tiny|full]``
runs them, prints a table per benchmark and writes ``results/<name>.json``.
"""
