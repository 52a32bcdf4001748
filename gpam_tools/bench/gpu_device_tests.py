"""Stage (a) of ``gpam gpu-check``: the kernel, module and model tests, run on the device.

The tests that take the ``device`` fixture (tests/conftest.py: ``pytest --device {cpu,cuda}``) are
the device-parametrised ones; they are found by reading the test files (a test function with a
``device`` argument) and run by node id, so a new device test joins the check without a change here.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import torch

from gpam_tools import REPO
from gpam_tools.bench.gpu_stage import StageResult, Stopwatch

TESTS = REPO / "tests"


def device_tests(tests_dir: Path = TESTS) -> List[str]:
    """Node ids (``tests/FILE::[CLASS::]TEST``) of the test functions that take a ``device`` argument."""
    found = []
    for path in sorted(tests_dir.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        prefix = path.relative_to(tests_dir.parent).as_posix()
        scopes = [("", tree.body)] + [(f"{n.name}::", n.body) for n in tree.body if isinstance(n, ast.ClassDef)]
        for scope, body in scopes:
            for node in body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test") \
                        and any(arg.arg == "device" for arg in node.args.args):
                    found.append(f"{prefix}::{scope}{node.name}")
    return found


def run_device_tests(device: torch.device, selection: Optional[Sequence[str]] = None,
                     timeout: float = 360) -> StageResult:
    """``pytest --device DEVICE`` on the device tests (or ``selection``: files or node ids)."""
    clock = Stopwatch()
    targets = list(selection) if selection else device_tests()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", device.type, *targets]
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return StageResult("device tests", False, [f"pytest did not finish in {timeout:.0f} s: {' '.join(cmd)}"],
                           clock())
    summary = _summary_line(proc.stdout)
    ok = proc.returncode == 0 and "passed" in summary
    lines = [f"pytest --device {device.type} on {len(targets)} test function(s): {summary or 'no summary line'}"]
    if device.type == "cuda" and re.search(r"\d+ skipped", summary):
        lines.append("some tests were skipped on cuda: read `pytest -rs --device cuda` for the reasons")
    if not ok:
        lines += ["last lines of its output:"] + (proc.stdout + proc.stderr).strip().splitlines()[-25:]
    return StageResult("device tests", ok, lines, clock())


def _summary_line(stdout: str) -> str:
    """pytest's last line, e.g. '12 passed, 1 skipped in 3.2s' (without the ===== frame)."""
    for line in reversed(stdout.strip().splitlines()):
        if re.search(r"\d+ (passed|failed|error|skipped|deselected)", line):
            return line.strip("= ").strip()
    return ""
