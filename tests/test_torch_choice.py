"""make setup's torch build: chosen from the machine (gpam_tools/torch_choice.py), overridable by TORCH_INDEX."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpam_tools.torch_choice import CPU_INDEX, choose, cuda_driver

REPO = Path(__file__).resolve().parents[1]


def never_called():
    raise AssertionError("the CPU index must not be probed when it would not be used")


def test_a_cuda_driver_takes_pypi_default_build():
    args, why = choose("Linux", "nvidia-smi found at /usr/bin/nvidia-smi", never_called)
    assert args == [] and "CUDA" in why


def test_no_driver_on_linux_takes_the_cpu_index():
    args, why = choose("Linux", None, lambda: True)
    assert args == ["--index-url", CPU_INDEX] and "no CUDA driver" in why


def test_unreachable_cpu_index_falls_back_to_pips_configuration_and_says_how_to_insist():
    args, why = choose("Linux", None, lambda: False)
    assert args == []
    assert "cannot be reached" in why and f'TORCH_INDEX="--index-url {CPU_INDEX}"' in why


def test_not_linux_takes_pypi_default_build():
    args, _ = choose("Darwin", None, never_called)
    assert args == []


def test_driver_detection_by_nvidia_smi_or_proc(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    assert cuda_driver(proc_dir=str(tmp_path / "none"), path=str(bin_dir)) is None
    proc = tmp_path / "proc_nvidia"
    proc.mkdir()
    assert "exists" in cuda_driver(proc_dir=str(proc), path=str(bin_dir))
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\n")
    smi.chmod(0o755)
    assert "nvidia-smi" in cuda_driver(proc_dir=str(tmp_path / "none"), path=str(bin_dir))


def test_command_prints_the_index_arguments_and_the_choice():
    proc = subprocess.run([sys.executable, "-m", "gpam_tools.torch_choice", "--spec", "torch==2.13.0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() in ("", f"--index-url {CPU_INDEX}")
    assert proc.stderr.startswith("torch build: torch==2.13.0: ")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_chooses_automatically_unless_torch_index_is_given(tmp_path):
    venv = tmp_path / "venv"  # make -n only prints: nothing is installed
    auto = subprocess.run(["make", "-n", "setup", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True)
    assert auto.returncode == 0, auto.stderr
    assert "-m gpam_tools.torch_choice" in auto.stdout
    given = subprocess.run(["make", "-n", "setup", f"VENV={venv}", "TORCH_SPEC=torch==2.6.0",
                            "TORCH_INDEX=--index-url https://download.pytorch.org/whl/cu126"],
                           cwd=REPO, capture_output=True, text=True)
    assert given.returncode == 0, given.stderr
    assert "gpam_tools.torch_choice" not in given.stdout
    assert 'pip install --quiet --index-url https://download.pytorch.org/whl/cu126 "torch==2.6.0"' in given.stdout
