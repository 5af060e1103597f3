"""The install puts one top-level package into site-packages (issue 10): nothing generic such as
`server` or `scenarios` lands beside a user's own packages, and every module of the repository's
package folders is inside the wheel, so a new folder cannot be forgotten in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def package_dirs() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def test_every_package_folder_is_declared() -> None:
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for name, folder in package_dirs().items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            dotted = ".".join((name, *rel.parts))
            assert dotted in declared, f"{init.parent} is a package but {dotted} is not in pyproject.toml"


def test_the_wheel_holds_one_top_level_package_with_every_module(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, timeout=300, capture_output=True)
    (wheel,) = tmp_path.glob("mfa_harness-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"mfa_harness"}, sorted(tops)
    for name, folder in package_dirs().items():
        for src in (ROOT / folder).rglob("*.py"):
            if ".venv" in src.parts:
                continue
            inside = "/".join((*name.split("."), *src.relative_to(ROOT / folder).parts))
            assert inside in names, f"{src.relative_to(ROOT)} is missing from the wheel"


def test_python_dash_m_mfa_harness_is_the_command() -> None:
    res = subprocess.run([sys.executable, "-m", "mfa_harness", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("mfa-harness"), (res.returncode, res.stdout, res.stderr)
