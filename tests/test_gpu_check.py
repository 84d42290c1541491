"""benchmarks/gpu_check.py --dry-run: the one-shot GPU check runs end to end on the CPU (tiny networks),
so the script a GPU session runs in one device call does not rot between GPU sessions. The animate row
runs where the shared media are found, else it says it was skipped; either way no section may fail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO_ROOT

SECTIONS = ("machine", "tests", "accuracy", "render", "animate", "compiled")


@pytest.mark.slow
def test_dry_run_prints_every_section_without_errors():
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--dry-run"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout.split("\nsection")[-1]  # the last (complete) table
    rows = [line.split(" | ") for line in table.splitlines()[1:] if " | " in line]
    assert {row[0].strip() for row in rows} == set(SECTIONS)
    results = {row[1].strip(): row[2] for row in rows}
    assert results["bf16 vs fp32, batch 1"].startswith("rel L2 ") and "finite True" in results["bf16 vs fp32, batch 1"]
    compiled = [result for what, result in results.items() if what.startswith("fp32 batch ")]
    assert len(compiled) == 2 and all(", compiled, rel L2 vs eager " in result for result in compiled)
    assert all(float(result.split("rel L2 vs eager ")[1].split(",")[0]) < 1e-5 for result in compiled)
    assert not any("ERROR" in row[1] or "FAILED" in row[2] for row in rows)
