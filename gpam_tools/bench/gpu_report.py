"""results/benchmarks-gpu.md: what ``gpam gpu-check`` found, every figure from the run that writes it."""

import datetime
import math
import platform
import subprocess
from pathlib import Path
from typing import Dict, List

import torch

from gpam_tools import REPO
from gpam_tools.bench import gpu_timing
from gpam_tools.bench.gpu_stage import StageResult
from gpam_tools.bench.gpu_timing import TARGETS, Size

BUDGET_SECONDS = 8 * 60


def describe_device(device: torch.device) -> Dict[str, str]:
    """Device, software and attention-backend switches of this run."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        name = f"{props.name} (compute capability {props.major}.{props.minor}, {props.total_memory / 2**30:.0f} GiB)"
    else:
        name = f"CPU: {platform.processor() or platform.machine()}, rehearsal only"
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    enabled = {"flash": torch.backends.cuda.flash_sdp_enabled(),
               "memory-efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
               "cuDNN": torch.backends.cuda.cudnn_sdp_enabled(), "math": torch.backends.cuda.math_sdp_enabled()}
    return {
        "device": name,
        "software": f"Python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
                    f"cuDNN {torch.backends.cudnn.version()}",
        "SDPA backends enabled": ", ".join(k for k, v in enabled.items() if v) or "none",
        "commit": commit,
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


def _ratio_row(workload: str, label: str, key: str, value: float, floor: str, length: int) -> str:
    at_target_length = length == 512
    met = ("yes" if value <= TARGETS[key] else "**no**") if at_target_length and math.isfinite(value) else "-"
    return f"| {workload} | {label} | <= {TARGETS[key]:.2f} | {value:.3f} | {floor} | {met} |"


def render(command: str, machine: Dict[str, str], size: Size, stages: List[StageResult]) -> str:
    total = sum(s.seconds for s in stages)
    lines = ["# GPU check: daGPAM against fairseq's softmax attention\n",
             f"Written by `{command}` (do not edit by hand). Scale: "
             + ("full-size models, sequences of 512 tokens: the figures for the device below."
                if size.name == "full" else
                f"**rehearsal at tiny sizes** (sequences of {size.length} tokens, one-layer models): it shows "
                "that every stage runs; its figures say nothing about a GPU."), "", "## Device\n"]
    lines += [f"- {k}: {v}" for k, v in machine.items()]
    lines += ["", "## Stages\n", "| stage | result | seconds |", "|---|---|---|"]
    lines += [f"| {s.name} | {'passed' if s.ok else '**FAILED**'} | {s.seconds:.0f} |" for s in stages]
    lines += ["", f"Total {total / 60:.1f} min (budget {BUDGET_SECONDS // 60} min: "
              + ("within it" if total <= BUDGET_SECONDS else "**over it**") + ").", ""]
    for s in stages:
        lines += [f"{s.name}:", ""] + [f"- {line}" for line in s.lines] + [""]
    timing = next((s.data for s in stages if s.data), {})
    if timing:
        lines += ["## Training step and peak memory, daGPAM / softmax\n",
                  f"Targets hold at 512 tokens; `met` is `-` at other lengths. FLOP floor: ratio of the "
                  "matrix-product FLOPs of the two steps (pointwise work not counted), the least time "
                  "ratio the arithmetic allows. Medians of interleaved rounds.\n",
                  "| workload | measure | target | measured | FLOP floor | met |", "|---|---|---|---|---|---|"]
        for workload, r in timing.items():
            lines.append(_ratio_row(workload, "training step time", "step", r["ratio"], f"{r['flop_ratio']:.3f}",
                                    r["length"]))
            lines.append(_ratio_row(workload, "peak memory", "memory", r["memory_ratio"], "-", r["length"]))
        lines += ["", "| workload | model | architecture | sequences x tokens | autocast | median step (s) | "
                  "peak memory (MiB) | GFLOP a step | rounds |", "|---|---|---|---|---|---|---|---|---|"]
        for workload, r in timing.items():
            for label in ("baseline", "dagpam"):
                lines.append(f"| {workload} | {label} | {r['archs'][label]} | {r['sentences']} x {r['length']} | "
                             f"{r['dtype']} | {r['seconds'][label]:.4f} | {r['peak'][label] / 2**20:.1f} | "
                             f"{r['flops'][label] / 1e9:.2f} | {r['rounds']} after {r['warmup']} warm-up |")
        lines += ["", "## Which kernel served each attention call\n",
                  "Forward calls in a `torch.profiler` trace of one training step, by the aten op beneath each "
                  "`aten::scaled_dot_product_attention` call (`_scaled_dot_product_efficient_attention`, "
                  "`_flash_attention`, `_cudnn_attention`; none: the math path).\n",
                  "| workload | model | kernel | calls |", "|---|---|---|---|"]
        for workload, r in timing.items():
            for label in ("baseline", "dagpam"):
                for kernel, calls in r["backends"][label].items():
                    lines.append(f"| {workload} | {label} | {kernel} | {calls} |")
        lines.append("")
    lines += ["## Method\n", gpu_timing.__doc__.strip(), ""]
    return "\n".join(lines)
