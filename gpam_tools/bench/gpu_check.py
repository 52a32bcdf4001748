"""``gpam gpu-check`` (``scripts/gpu_check.sh``, ``make gpu-check``): verify daGPAM on a CUDA machine.

Stages, each reported with what it found (at most 8 minutes on a GPU):

  tests     the kernel, module and model tests on the device (``pytest --device cuda`` on the
            tests that take the ``device`` fixture)
  training  tiny translation and language models, 20 updates each under fairseq's ``--fp16``,
            ``--bf16`` and ``--amp``: loss finite and falling
  decoding  incremental decoding against full decoding on the device, fp32 and 16-bit
  timing    a full-size transformer_iwslt_de_en and transformer_lm training step at 512 tokens,
            daGPAM against fairseq's softmax side by side: time, peak memory
            (torch.cuda.max_memory_allocated), FLOP floor, and the SDPA kernel of every attention call

The report goes to results/benchmarks-gpu.md (device, torch, CUDA, cuDNN, the kernels). Without
CUDA it prints one line and exits with status 1. ``--device cpu`` rehearses every stage at tiny
sizes (the tests of this command run it so), writing its report elsewhere unless --out says.
Exit status 0 when every stage passed.
"""

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import torch

from gpam_tools import REPO
from gpam_tools.atomic import write_text_atomic

STAGES = ("tests", "training", "decoding", "timing")
NO_CUDA = ("gpam gpu-check: no CUDA device here (torch.cuda.is_available() is False); run it on a GPU machine "
           "(--device cpu only rehearses it at tiny sizes)")


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpam gpu-check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cuda (the check) or cpu (a rehearsal of every stage, for the tests)")
    parser.add_argument("--size", choices=("full", "tiny"), help="timing sizes (default: full on cuda, tiny on cpu)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--updates", type=int, default=20, help="updates of each tiny training run")
    parser.add_argument("--tests", nargs="+", metavar="PATH_OR_NODE",
                        help="run these tests instead of every device test (files or pytest node ids)")
    parser.add_argument("--out", type=Path, help="report (default results/benchmarks-gpu.md on cuda, "
                                                 "WORK/benchmarks-gpu-rehearsal.md on cpu)")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new temporary one)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.stages.split(",")) - set(STAGES))
    if unknown:
        parser.error(f"--stages: unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    if args.updates < 2:
        parser.error("--updates must be at least 2 (a falling loss needs two updates)")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.device == "cuda" and not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 1
    from gpam_tools.bench.gpu_decoding import run_decoding
    from gpam_tools.bench.gpu_device_tests import run_device_tests
    from gpam_tools.bench.gpu_report import describe_device, render
    from gpam_tools.bench.gpu_timing import SIZES, run_timing
    from gpam_tools.bench.gpu_training import run_training

    device = torch.device(args.device)
    size = SIZES[args.size or ("full" if device.type == "cuda" else "tiny")]
    work = args.work or Path(tempfile.mkdtemp(prefix="gpam-gpu-check-"))
    out = args.out or (REPO / "results" / "benchmarks-gpu.md" if device.type == "cuda"
                       else work / "benchmarks-gpu-rehearsal.md")
    chosen = args.stages.split(",")
    runs = {"tests": lambda: run_device_tests(device, args.tests),
            "training": lambda: run_training(device, work / "training", args.updates),
            "decoding": lambda: run_decoding(device),
            "timing": lambda: run_timing(device, size, work / "timing")}
    results = []
    for name in STAGES:
        if name in chosen:
            print(f"gpu-check: {name} ...", flush=True)
            result = runs[name]()
            results.append(result)
            print(f"gpu-check: {result.name}: {'passed' if result.ok else 'FAILED'} ({result.seconds:.0f} s)")
            for line in result.lines:
                print(f"  {line}")
    command = "gpam gpu-check" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    write_text_atomic(out, render(command, describe_device(device), size, results))
    print(f"gpu-check: wrote {out}")
    return 0 if all(r.ok for r in results) else 1
