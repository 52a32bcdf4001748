"""gpam gpu-check (gpam_tools/bench/gpu_check.py, scripts/gpu_check.sh): every stage rehearsed on the CPU with
the device as a parameter, so that its first run on a GPU is not its first run; and the one-line
refusal where there is no CUDA."""

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from conftest import REPO
from gpam_tools.bench import gpu_check
from gpam_tools.bench.gpu_decoding import run_decoding
from gpam_tools.bench.gpu_report import describe_device
from gpam_tools.bench.gpu_stage import half_dtype
from gpam_tools.bench.gpu_timing import peak_memory
from gpam_tools.bench.gpu_device_tests import _summary_line, device_tests, run_device_tests
from gpam_tools.bench.gpu_timing import SIZES
from gpam_tools.bench.gpu_training import fairseq_train_args, loss_falls, run_training

CPU = torch.device("cpu")
FAST_DEVICE_TEST = "tests/test_gpam_attention.py::test_signed_weights_sum_to_one_and_match_output"


def test_without_cuda_it_prints_one_line_and_exits_non_zero(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no CUDA device" in err


def test_the_shell_wrapper_reaches_the_command():
    proc = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "usage: gpam gpu-check" in proc.stdout


def test_bad_options_are_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cpu", "--stages", "tests,speed"])
    assert "unknown stage(s) speed" in capsys.readouterr().err


def test_device_tests_are_found_by_their_device_argument():
    found = device_tests()
    assert FAST_DEVICE_TEST in found
    files = {node.split("::")[0] for node in found}
    assert {"tests/test_gpam_attention.py", "tests/test_models.py", "tests/test_variants.py"} <= files
    assert not any(f in files for f in ("tests/test_gpu_check.py", "tests/test_power.py"))
    # a test without the device argument, even in a file of device tests, is not among them
    assert "tests/test_gpam_attention.py::test_invalid_options_name_the_flag" not in found


def test_device_tests_stage_runs_pytest_on_the_device():
    result = run_device_tests(CPU, [FAST_DEVICE_TEST])
    assert result.ok, result.lines
    assert "pytest --device cpu on 1 test function(s): 1 passed" in result.lines[0]


def test_pytest_summary_line_is_read_without_its_frame():
    out = "....F\n=================== 1 failed, 4 passed, 2 skipped in 3.10s ===================\n"
    assert _summary_line(out) == "1 failed, 4 passed, 2 skipped in 3.10s"
    assert _summary_line("ImportError while loading conftest\n") == ""


def test_loss_falls_needs_finite_and_falling():
    assert loss_falls([5.0, 4.0, 3.5, 3.0])
    assert not loss_falls([5.0, 5.1, 5.2, 5.3]) and not loss_falls([5.0, float("nan"), 3.0, 2.0])
    assert not loss_falls([5.0])


def test_training_stage_trains_with_fairseq_on_the_device(tmp_path):
    result = run_training(CPU, tmp_path, updates=4)
    assert result.ok, result.lines
    for task in ("translation", "language_modeling"):
        assert any(line.startswith(f"{task} --amp: 4 updates") and line.endswith("finite and falling")
                   for line in result.lines), result.lines
        for precision in ("fp16", "bf16"):  # fairseq runs these on CUDA only: said so, not hidden
            assert any(line.startswith(f"{task} --{precision}: not run on cpu") for line in result.lines)


def test_decoding_stage_compares_incremental_and_full_decoding():
    result = run_decoding(CPU)
    assert result.ok, result.lines
    assert len(result.lines) == 4 and all(line.endswith(" ok") for line in result.lines)


def test_timing_stage_and_report(tmp_path, capsys):
    out = tmp_path / "gpu.md"
    code = gpu_check.main(["--device", "cpu", "--stages", "timing", "--work", str(tmp_path / "w"), "--out", str(out)])
    assert code == 0
    report = out.read_text()
    assert "**rehearsal at tiny sizes**" in report and "torch " + torch.__version__ in report
    for workload in ("translation", "language model"):
        assert f"| {workload} | training step time | <= 1.10 |" in report
        assert f"| {workload} | peak memory | <= 1.10 |" in report
        # on the CPU both models' attention runs PyTorch's CPU flash kernel, found by its aten op name
        assert f"| {workload} | dagpam | flash (CPU kernel) |" in report
        assert f"| {workload} | baseline | flash (CPU kernel) |" in report
    assert SIZES["tiny"].length == 16 and "4 x 16" in report


def test_the_cuda_only_lines_call_apis_this_torch_has(monkeypatch):
    """What only a GPU runs is run here against stand-ins of the same torch.cuda functions
    (monkeypatch refuses a name torch.cuda does not have)."""
    calls = []
    for name in ("synchronize", "reset_peak_memory_stats"):
        monkeypatch.setattr(torch.cuda, name, lambda *args, name=name: calls.append(name))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1000)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 5000)
    cuda = torch.device("cuda")
    assert peak_memory(lambda: calls.append("step"), cuda) == 4000
    assert calls == ["synchronize", "reset_peak_memory_stats", "step", "step"]
    gpu = SimpleNamespace(name="Stand-in GPU", major=8, minor=0, total_memory=40 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: gpu)
    assert describe_device(cuda)["device"] == "Stand-in GPU (compute capability 8.0, 40 GiB)"
    assert half_dtype(cuda) == torch.float16 and half_dtype(CPU) == torch.bfloat16
    on_gpu = fairseq_train_args(Path("data"), "translation", "fp16", cuda, 20)
    assert "--fp16" in on_gpu and "--cpu" not in on_gpu and on_gpu[on_gpu.index("--max-update") + 1] == "20"
    assert "--cpu" in fairseq_train_args(Path("data"), "translation", "amp", CPU, 20)
