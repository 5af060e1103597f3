"""``python -m bench.readme``: rewrite the results table in bench/README.md and the project
README from results/*.json.

Only the part between the two marker lines is replaced, so the prose around it stays.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.__main__ import EXTRA, RESULTS, SUITE
from bench.measure import figure_rows

README = Path(__file__).resolve().parent / "README.md"
READMES = (README, README.parent.parent / "README.md")
BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def _met(met: str) -> str:
    return {"yes": "yes", "-": "-"}.get(met, "**no**")


def table(results: Path = RESULTS) -> str:
    """A Markdown table of every figure of the latest results, with date and machine per benchmark."""
    lines = ["| benchmark | figure | A (median of rounds) | B (median of rounds) | value | goal | met |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    machines = set()
    for name in SUITE + EXTRA:
        path = results / f"{name}.json"
        if not path.exists() and name in EXTRA:
            continue
        if not path.exists():
            lines.append(f"| {name} | (not run) | | | | | |")
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        m = doc["machine"]
        machines.add(f"{m['nproc']} × {m['cpu']}, Python {m['python']}")
        for i, (fig, a, b, value, goal, met) in enumerate(figure_rows(doc)):
            label = f"{name} ({doc['size']}, {doc['date'][:16].replace('T', ' ')} UTC, load {m['loadavg'][0]})" \
                if i == 0 else ""
            lines.append(f"| {label} | {fig} | {a} | {b} | {value} | {goal} | {_met(met)} |")
    lines.append("")
    lines.append("Machine: " + "; ".join(sorted(machines)) + ".")
    return "\n".join(lines)


def main() -> int:
    new = table()
    for path in READMES:
        text = path.read_text(encoding="utf-8")
        if BEGIN not in text or END not in text:
            print(f"{path}: markers {BEGIN} / {END} not found", file=sys.stderr)
            return 1
        head, rest = text.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
        path.write_text(f"{head}{BEGIN}\n{new}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
