"""One stage of ``gpam gpu-check``: what it checked, whether it passed, what it printed, how long it took."""

import time
from dataclasses import dataclass, field
from typing import List

import torch


@dataclass
class StageResult:
    name: str
    ok: bool
    lines: List[str] = field(default_factory=list)  # what the stage found, one fact a line
    seconds: float = 0.0
    data: dict = field(default_factory=dict)  # figures the report needs (stage d)


class Stopwatch:
    """Wall seconds since construction."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels (CUDA runs asynchronously; the CPU has nothing to wait for)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def half_dtype(device: torch.device) -> torch.dtype:
    """The 16-bit type autocast uses on ``device``: fp16 on CUDA (fairseq --fp16/--amp), bf16 on CPU."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16
