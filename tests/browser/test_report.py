"""report.html in a real browser: a real `smtp-outage` run (shortened), looked at as a person would.

Checked in Chromium's own layout: no chart label is clipped, no bar is painted over (the fault
windows lie behind the bars), every legend swatch has its bars' colour, the time axis ends with
the run and marks where the load ended, and no table cell is raw JSON. The whole page and the
time chart are saved as screenshots (`$MFA_ARTIFACTS/<test>/`, CI keeps them as artifacts).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page

DURATION_S = 420          # scenario seconds: the outage (120-240) and the 451 window (240-360) and after


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", "smtp-outage", "--duration", str(DURATION_S),
                          "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=300)
    assert res.returncode in (0, 3), res.stdout + res.stderr
    return out


def _clipped_texts(page: Page) -> list[str]:
    """Text elements of any chart whose box leaves its SVG's viewBox."""
    return page.evaluate("""() => {
        const bad = [];
        for (const svg of document.querySelectorAll('svg')) {
            const vb = svg.viewBox.baseVal;
            for (const t of svg.querySelectorAll('text')) {
                const b = t.getBBox();
                if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5
                    || b.y + b.height > vb.y + vb.height + 0.5) bad.push(t.textContent);
            }
        }
        return bad;
    }""")


def _covered_bars(page: Page) -> list[str]:
    """Bars of the time chart whose centre shows something else (a fault band painted over them)."""
    return page.evaluate("""() => {
        const bad = [];
        for (const bar of document.querySelectorAll('svg rect.bar')) {
            const r = bar.getBoundingClientRect();
            if (r.width < 1 || r.height < 2) continue;
            bar.scrollIntoView({block: 'center'});
            const r2 = bar.getBoundingClientRect();
            const hit = document.elementFromPoint(r2.x + r2.width / 2, r2.y + r2.height / 2);
            if (hit !== bar && !(hit && bar.contains(hit))) bad.push(bar.querySelector('title').textContent);
        }
        return bad;
    }""")


def _legend_mismatches(page: Page) -> list[str]:
    return page.evaluate("""() => {
        const css = c => { const d = document.createElement('div'); d.style.color = c; document.body.append(d);
                           const v = getComputedStyle(d).color; d.remove(); return v; };
        const bad = [];
        for (const item of document.querySelectorAll('.legend span[data-outcome]')) {
            const swatch = getComputedStyle(item.querySelector('i')).backgroundColor;
            const bars = document.querySelectorAll(`svg rect.bar[data-outcome="${item.dataset.outcome}"]`);
            if (!bars.length) bad.push(item.dataset.outcome + ': no bars');
            for (const bar of bars) if (css(bar.getAttribute('fill')) !== swatch) bad.push(item.dataset.outcome);
        }
        const fault = document.querySelector('.legend span.fault i');
        const band = document.querySelector('svg rect.fault');
        if (fault && band && css(band.getAttribute('fill')) !== getComputedStyle(fault).backgroundColor)
            bad.push('fault window');
        return bad;
    }""")


def test_the_report_reads_well_in_a_browser(report_run: Path, browsing, shots) -> None:
    page = browsing.new_page()
    page.goto((report_run / "report.html").as_uri())
    page.wait_for_selector("svg rect.bar")
    shots.take(page, "report")
    page.locator("svg[aria-label='Login outcomes over time']").screenshot(
        path=str(shots.folder / "outcomes-over-time.png"))

    assert _clipped_texts(page) == []
    assert page.locator("svg rect.fault").count() >= 2                  # the outage and the 451 window
    assert _covered_bars(page) == []
    assert _legend_mismatches(page) == []

    # the time axis ends with the run (not far beyond it) and marks where the load ended
    chart = page.locator("svg[aria-label='Login outcomes over time']")
    expect_text = f"load ended ({DURATION_S} s)"
    assert chart.locator("text", has_text=expect_text).count() == 1
    ticks = [float(t.replace(",", "")) for t in chart.locator("text.xtick").evaluate_all("ts => ts.map(t => t.textContent)")]
    verdict = json.loads((report_run / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["metrics"]["logins_ok"] > 0
    assert ticks and max(ticks) <= DURATION_S * 1.3, ticks

    cells = page.locator("td").all_inner_texts()
    assert not [c for c in cells if c.strip().startswith(("{", "["))], "raw JSON in a table cell"
    assert not browsing.requests or all(u.startswith("file:") for u in browsing.requests)
