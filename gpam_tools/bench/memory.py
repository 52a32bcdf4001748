"""(d) of ``gpam bench``: peak memory of each workload, in a fresh subprocess per variant."""

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import torch

from gpam_tools import REPO
from gpam_tools.bench import workloads as wl
from gpam_tools.bench.settings import Settings

MEMORY_METHOD = (
    "Peak resident memory (VmHWM) of a fresh subprocess, minus its resident memory just before the "
    "measured work, with the high-water mark reset through /proc/self/clear_refs. The subprocess runs "
    "with MALLOC_MMAP_THRESHOLD_=65536, so glibc hands every buffer of 64 KiB or more back to the "
    "system when PyTorch frees it: the resident peak then follows the peak of live tensor memory "
    "instead of what malloc keeps cached. tracemalloc cannot see PyTorch's allocations."
)


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not found in /proc/self/status (the memory probe needs Linux)")


def measure_peak(fn: Callable[[], None], repeats: int = 2) -> int:
    """Peak resident bytes above the resident size before ``fn`` ran ``repeats`` times."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    before = _status_bytes("VmRSS")
    for _ in range(repeats):
        fn()
    return _status_bytes("VmHWM") - before


def memory_probe(workload: str, variant: str, quick: bool) -> dict:
    """Runs inside the subprocess: peak memory of one variant on one workload."""
    s = Settings.make(quick)
    if workload == "module":
        torch.manual_seed(0)
        module = wl.attention_variants()[variant]()
        out = {}
        for kind in s.kinds:
            for length in s.lengths:
                step = wl.attention_step(module, wl.attention_case(kind, length))
                out[f"{kind}/{length}"] = measure_peak(step)
        return out
    corpus = wl.load_corpus()
    arch = wl.BASELINE_ARCH if variant == "baseline" else wl.GPAM_ARCH
    _, model, criterion = wl.build_translation(arch, corpus)
    if workload == "train":
        sample = wl.pick_batches(wl.batches(corpus.train, s.train_max_tokens), (max(s.train_quantiles),))[0]
        return {"peak": measure_peak(wl.training_step(model, criterion, sample)),
                "tokens": sample["ntokens"]}
    sample = wl.pick_batches(wl.batches(corpus.test, max_tokens=100000, max_sentences=s.gen_sentences),
                             (0.5,))[0]
    return {"peak": measure_peak(wl.generation_run(model, corpus.dictionary, sample)),
            "sentences": sample["nsentences"]}


def run_probe(workload: str, variant: str, s: Settings, threads: int) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "gpam_tools", "bench", "--probe", workload, "--variant", variant,
           "--threads", str(threads)] + (["--quick"] if s.quick else [])
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe {workload}/{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_memory(s: Settings, threads: int, log) -> dict:
    out = {"module": {}, "train": {}, "generate": {}}
    for variant in wl.attention_variants():
        out["module"][variant] = run_probe("module", variant, s, threads)
    for workload in ("train", "generate"):
        for variant in ("baseline", "dagpam"):
            out[workload][variant] = run_probe(workload, variant, s, threads)
        log(f"memory {workload}: " + ", ".join(
            f"{v} {r['peak'] / 2**20:.0f} MiB" for v, r in out[workload].items()))
    return out
