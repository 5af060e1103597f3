"""``python -m bench [NAME ...] [--size tiny|full] [--out DIR]``: run benchmarks, print, write JSON.

Without names every benchmark of ``SUITE`` (the issue's) runs, in that order; ``EXTRA`` ones
(context measurements outside the 10-minute suite) run only when named. Results go to
``bench/results/<name>.json`` unless ``--out`` says otherwise (tests use a temporary dir).
Exit status: 0 when every benchmark ran (goals met or not: a benchmark is not a test),
1 when one could not run, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.measure import print_table, write_result

SUITE = ["inbox_ingest", "inbox_wakeup", "inbox_size", "checker_parse", "end_to_end", "waiting_crowd"]
EXTRA = ["production_cost", "distributed"]
RESULTS = Path(__file__).resolve().parent / "results"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Benchmarks measured side by side (issue 6).")
    p.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: {', '.join(SUITE)}; by name only: {', '.join(EXTRA)})")
    p.add_argument("--size", choices=("tiny", "full"), default="full",
                   help="tiny keeps them working (CI); full gives the figures")
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON results")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    unknown = [n for n in args.names if n not in SUITE + EXTRA]
    if unknown:
        print(f"python -m bench: unknown benchmark {', '.join(unknown)} (known: {', '.join(SUITE + EXTRA)})",
              file=sys.stderr)
        return 2
    failed = []
    t0 = time.monotonic()
    for name in args.names or SUITE:
        module = importlib.import_module(f"bench.{name}")
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
            try:
                doc = module.run(args.size, Path(work))
            except Exception:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                print(f"python -m bench: {name} failed", file=sys.stderr)
                failed.append(name)
                continue
        path = write_result(doc, args.out)
        print_table(doc)
        print(f"  -> {path}")
        sys.stdout.flush()
    print(f"\n{len(args.names or SUITE) - len(failed)} benchmark(s) ran in {time.monotonic() - t0:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
