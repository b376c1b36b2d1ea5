"""The domain package stays Prefect-free, and the project stands alone."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import reportlake
from tests.conftest import REPO


def test_domain_package_imports_no_prefect() -> None:
    modules = [m.name for m in pkgutil.walk_packages(reportlake.__path__, "reportlake.")]
    assert "reportlake.cli" in modules and "reportlake.pipeline" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'prefect', 'flows', 'tasks'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"reportlake imported {out.stdout.strip()}"


def test_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
