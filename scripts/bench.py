#!/usr/bin/env python
"""Speed and memory of daGPAM against fairseq's softmax attention, side by side in one run.

usage: python scripts/bench.py [--quick] [--out results/benchmarks.md] [--threads N]
       python scripts/bench.py --render-only results/benchmarks.json [--out ...]

Measures (see scripts/bench_workloads.py for what each workload runs):
  (a) one attention module, forward + backward, ~4k tokens, lengths 32..512, width 512, 4 heads:
      fairseq's MultiheadAttention against every registered daGPAM/peer variant;
  (b) a training step of transformer_iwslt_de_en against gpam_transformer_iwslt_de_en;
  (c) beam-5 generation with fairseq's SequenceGenerator;
  (d) peak memory of each, in a fresh subprocess per variant (see MEMORY_METHOD).
Times are medians over rounds after warm-up; inside a round the variants run one after
another in rotating order, so a load change on the shared cores hits all of them alike;
each ratio is the median over rounds of (variant time / baseline time in that round).
The report is written atomically to --out and printed; the raw measurements go next to it
(same name, .json), so --render-only can write the report again without measuring.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

SCRIPTS = Path(__file__).resolve().parent
# this checkout's plugin, not the one pip installed in editable mode (maybe another checkout)
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import torch  # noqa: E402

import bench_workloads as wl  # noqa: E402

REPO = SCRIPTS.parent
TARGETS = {"module": 1.6, "train": 1.05, "generate": 1.10, "memory": 1.10}
MEMORY_METHOD = (
    "Peak resident memory (VmHWM) of a fresh subprocess, minus its resident memory just before the "
    "measured work, with the high-water mark reset through /proc/self/clear_refs. The subprocess runs "
    "with MALLOC_MMAP_THRESHOLD_=65536, so glibc hands every buffer of 64 KiB or more back to the "
    "system when PyTorch frees it: the resident peak then follows the peak of live tensor memory "
    "instead of what malloc keeps cached. tracemalloc cannot see PyTorch's allocations."
)


@dataclass
class Settings:
    quick: bool
    lengths: List[int]
    kinds: List[str]
    module_rounds: int
    module_warmup: int
    train_max_tokens: int
    train_quantiles: tuple
    train_rounds: int
    gen_sentences: int
    gen_batches: int
    gen_rounds: int

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if quick:
            return cls(True, [32, 128], ["encoder", "decoder"], 3, 1, 1024, (0.5,), 2, 8, 1, 2)
        return cls(False, [32, 64, 128, 256, 512], ["encoder", "decoder"], 5, 1, 4096,
                   (0.5, 0.9), 3, 32, 2, 3)


# --------------------------------------------------------------------------- timing

@dataclass
class Timing:
    """Median seconds per variant and the median over rounds of the ratio to the baseline."""

    median: Dict[str, float]
    ratio: Dict[str, float]
    spread: Dict[str, float] = field(default_factory=dict)  # (max - min) / median of the ratios


def interleaved(runs: Dict[str, Callable[[], None]], rounds: int, warmup: int,
                baseline: str) -> Timing:
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    median = {n: statistics.median(t) for n, t in times.items()}
    ratio, spread = {}, {}
    for n in names:
        per_round = [a / b for a, b in zip(times[n], times[baseline])]
        ratio[n] = statistics.median(per_round)
        spread[n] = (max(per_round) - min(per_round)) / ratio[n]
    return Timing(median, ratio, spread)


# --------------------------------------------------------------------------- (a) modules

def bench_modules(s: Settings, log) -> List[dict]:
    factories = wl.attention_variants()
    torch.manual_seed(0)
    modules = {name: make() for name, make in factories.items()}
    rows = []
    for kind in s.kinds:
        for length in s.lengths:
            case = wl.attention_case(kind, length)
            steps = {name: wl.attention_step(m, case) for name, m in modules.items()}
            flops = {name: wl.count_flops(step) for name, step in steps.items()}
            timing = interleaved(steps, s.module_rounds, s.module_warmup, wl.BASELINE)
            for name in modules:
                rows.append(dict(kind=kind, length=length, batch=case.x.size(1), variant=name,
                                 ms=1e3 * timing.median[name], ratio=timing.ratio[name],
                                 spread=timing.spread[name], flops=flops[name],
                                 flop_ratio=flops[name] / flops[wl.BASELINE]))
            log(f"module {kind:7s} T={length:4d}: " + ", ".join(
                f"{n} {1e3 * timing.median[n]:.1f} ms x{timing.ratio[n]:.2f} (flops x{flops[n] / flops[wl.BASELINE]:.2f})"
                for n in modules))
    return rows


def bench_products(s: Settings) -> dict:
    """Time of the negative-query product (N H x Dh by Dh x Dh) against one projection (N x C by C x C).

    In FLOPs the first is 1/H of the second; the time ratio shows how well BLAS
    runs the smaller product on this CPU.
    """
    tokens, dim, heads = wl.TOKENS_PER_BATCH, wl.EMBED_DIM, wl.NUM_HEADS
    head_dim = dim // heads
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(tokens, dim, generator=g), torch.randn(dim, dim, generator=g)
    q, wn = torch.randn(tokens * heads, head_dim, generator=g), torch.randn(head_dim, head_dim, generator=g)
    timing = interleaved({"projection": lambda: x @ w, "negative query": lambda: q @ wn},
                         4 * s.module_rounds, 2, "projection")
    return dict(ratio=timing.ratio["negative query"], flop_ratio=1.0 / heads,
                ms={k: 1e3 * v for k, v in timing.median.items()})


# --------------------------------------------------------------------------- (b, c) models

def build_models(corpus) -> Dict[str, object]:
    models = {}
    for label, arch in (("baseline", wl.BASELINE_ARCH), ("dagpam", wl.GPAM_ARCH)):
        _, model, criterion = wl.build_translation(arch, corpus)
        models[label] = (model, criterion)
    return models


def bench_training(s: Settings, corpus, models, log) -> dict:
    picked = wl.pick_batches(wl.batches(corpus.train, s.train_max_tokens), s.train_quantiles)
    per_batch = []
    for sample in picked:
        steps = {label: wl.training_step(model, crit, sample) for label, (model, crit) in models.items()}
        flops = {label: wl.count_flops(step) for label, step in steps.items()}  # doubles as warm-up
        timing = interleaved(steps, s.train_rounds, 0, "baseline")
        entry = dict(sentences=sample["nsentences"], tokens=sample["ntokens"],
                     src_len=sample["net_input"]["src_tokens"].size(1),
                     tgt_len=sample["target"].size(1), seconds=timing.median, ratio=timing.ratio,
                     spread=timing.spread, flops=flops)
        per_batch.append(entry)
        log(f"train batch {entry['sentences']} sents, {entry['tokens']} tgt tokens, tgt len {entry['tgt_len']}: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in timing.median.items())
            + f", ratio x{timing.ratio['dagpam']:.3f}")
    return _aggregate(per_batch, "tokens")


def bench_generation(s: Settings, corpus, models, log) -> dict:
    all_batches = wl.batches(corpus.test, max_tokens=100000, max_sentences=s.gen_sentences)
    picked = wl.pick_batches(all_batches, tuple((i + 0.5) / s.gen_batches for i in range(s.gen_batches)))
    per_batch = []
    for sample in picked:
        runs = {label: wl.generation_run(model, corpus.dictionary, sample)
                for label, (model, _) in models.items()}
        flops = {label: wl.count_flops(run) for label, run in runs.items()}  # doubles as warm-up
        timing = interleaved(runs, s.gen_rounds, 0, "baseline")
        entry = dict(sentences=sample["nsentences"], tokens=sample["ntokens"],
                     src_len=sample["net_input"]["src_tokens"].size(1),
                     steps=wl.forced_length(sample), seconds=timing.median, ratio=timing.ratio,
                     spread=timing.spread, flops=flops)
        per_batch.append(entry)
        log(f"generate {entry['sentences']} sents, {entry['steps']} steps: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in timing.median.items())
            + f", ratio x{timing.ratio['dagpam']:.3f}")
    return _aggregate(per_batch, "sentences")


def _aggregate(per_batch: List[dict], unit: str) -> dict:
    """Throughput over all batches (sum of units / sum of median times) and the time ratio."""
    total = sum(b[unit] for b in per_batch)
    seconds = {k: sum(b["seconds"][k] for b in per_batch) for k in per_batch[0]["seconds"]}
    flops = {k: sum(b["flops"][k] for b in per_batch) for k in per_batch[0]["flops"]}
    # time-weighted mean of the per-batch paired ratios
    weight = [b["seconds"]["baseline"] for b in per_batch]
    ratio = sum(w * b["ratio"]["dagpam"] for w, b in zip(weight, per_batch)) / sum(weight)
    return dict(per_batch=per_batch, unit=unit, throughput={k: total / v for k, v in seconds.items()},
                ratio=ratio, flop_ratio=flops["dagpam"] / flops["baseline"])


# --------------------------------------------------------------------------- (d) memory

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
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", workload, "--variant", variant,
           "--threads", str(threads)] + (["--quick"] if s.quick else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
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


# --------------------------------------------------------------------------- report

def describe_machine(threads: int) -> Dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import fairseq

    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical cores",
        "torch threads": str(threads),
        "software": f"Python {platform.python_version()}, torch {torch.__version__}, "
                    f"fairseq {fairseq.__version__}",
        "commit": commit,
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


def _fmt_bytes(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def render(s: Settings, machine, command: str, modules, products, train, gen, memory, load,
           elapsed) -> str:
    """The Markdown report; every figure in it comes from the arguments (the raw measurements)."""
    variants = list(dict.fromkeys(r["variant"] for r in modules))
    others = [v for v in variants if v != wl.BASELINE]
    module_worst = max((r for r in modules if r["variant"] == "dagpam"), key=lambda r: r["ratio"])
    mem_base = memory["train"]["baseline"]["peak"]
    mem_gpam = memory["train"]["dagpam"]["peak"]
    gen_mem_ratio = memory["generate"]["dagpam"]["peak"] / memory["generate"]["baseline"]["peak"]
    L = []
    add = L.append
    add("# Benchmarks: daGPAM against fairseq's softmax attention\n")
    add(f"Written by `{command}` (do not edit by hand; the raw measurements are in the .json of the same name, "
        "from which `--render-only` writes this report again). Scale: "
        + ("**quick mode**: fewer lengths, small batches, few rounds; a smoke check, not the reference figures."
           if s.quick else "full mode (the reference figures for this machine)."))
    add("")
    add("## Machine\n")
    for k, v in machine.items():
        add(f"- {k}: {v}")
    add(f"- load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} "
        "(the cores are shared with other jobs; the interleaving below is meant to absorb that)")
    add(f"- wall time of this run: {elapsed / 60:.1f} min")
    add("")
    add("## The four targets\n")
    add("Ratios are daGPAM / baseline (time, or peak memory). The arithmetic floor is the ratio of counted "
        "matrix-product FLOPs of the same work.\n")
    add("| measure | target | measured | arithmetic floor | met |")
    add("|---|---|---|---|---|")
    rows = [
        ("one attention module, fwd+bwd (worst case: "
         f"{module_worst['kind']}, T={module_worst['length']})", "module", module_worst["ratio"],
         f"{module_worst['flop_ratio']:.2f}"),
        ("training step time", "train", train["ratio"], f"{train['flop_ratio']:.3f}"),
        ("beam-5 generation time", "generate", gen["ratio"], f"{gen['flop_ratio']:.3f}"),
        ("peak training memory", "memory", mem_gpam / mem_base, "-"),
    ]
    for label, key, value, floor in rows:
        add(f"| {label} | <= {TARGETS[key]:.2f} | {value:.3f} | {floor} | "
            f"{'yes' if value <= TARGETS[key] else '**no**'} |")
    add("")
    add(_explain_misses(rows, products))
    add("## (a) One attention module, forward + backward\n")
    add(f"Self-attention, width {wl.EMBED_DIM}, {wl.NUM_HEADS} heads, about {wl.TOKENS_PER_BATCH} tokens "
        "(B sentences of length T, lengths drawn from [T/2, T]); gradients for the weights and the input. "
        "`encoder`: key padding mask (left padding); `decoder`: fairseq's future mask plus key padding "
        "(right padding). Baseline: fairseq's `MultiheadAttention`, which takes PyTorch's fused "
        "`F.multi_head_attention_forward` / scaled-dot-product kernel here. Other rows: every class in "
        "`ATTENTION_VARIANTS`. "
        f"Median of {s.module_rounds} interleaved rounds after {s.module_warmup} warm-up(s); "
        "spread = (max - min) / median of the per-round ratios. Peak memory: see (d).\n")
    add("| case | T | B | variant | ms | ratio | spread | FLOP ratio | peak memory | memory ratio |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for r in modules:
        key = f"{r['kind']}/{r['length']}"
        mem = memory["module"][r["variant"]][key]
        mem_ratio = mem / memory["module"][wl.BASELINE][key]
        add(f"| {r['kind']} | {r['length']} | {r['batch']} | {r['variant']} | {r['ms']:.1f} | "
            f"{r['ratio']:.2f} | {r['spread']:.2f} | {r['flop_ratio']:.2f} | {_fmt_bytes(mem)} | "
            f"{mem_ratio:.2f} |")
    if not others:
        add("\nNo daGPAM variant is registered.")
    add(f"\nThe negative-query product alone (ReLU(Q+) W-: {wl.TOKENS_PER_BATCH * wl.NUM_HEADS} x "
        f"{wl.EMBED_DIM // wl.NUM_HEADS} by {wl.EMBED_DIM // wl.NUM_HEADS} x {wl.EMBED_DIM // wl.NUM_HEADS}) "
        f"takes {products['ratio']:.2f} of the time of one projection product ({wl.TOKENS_PER_BATCH} x "
        f"{wl.EMBED_DIM} by {wl.EMBED_DIM} x {wl.EMBED_DIM}; medians {products['ms']['negative query']:.1f} "
        f"and {products['ms']['projection']:.1f} ms) for {products['flop_ratio']:.2f} of its FLOPs.")
    add("")
    add("## (b) Training step\n")
    add(f"`{wl.BASELINE_ARCH}` vs `{wl.GPAM_ARCH}` (full size, architecture defaults: dropout 0.3, "
        "attention dropout 0, daGPAM in all 18 attention modules, lambda- = 0.2 fixed), built in-process "
        "with fairseq's argument parser and task. Data: the shipped ci_deen text (whitespace tokens, one "
        f"joined dictionary of the {wl.VOCAB_SIZE} most frequent training words), batched by fairseq's "
        f"`batch_by_size` with --max-tokens {s.train_max_tokens}; the batches at target-length quantiles "
        f"{', '.join(str(q) for q in s.train_quantiles)} are timed. One step = forward, fairseq's "
        "label-smoothed cross-entropy (0.1), backward, `torch.optim.Adam` step. "
        f"Median of {s.train_rounds} interleaved rounds after one warm-up step (the FLOP count).\n")
    add("| batch | sentences | target tokens | src len | tgt len | baseline s | daGPAM s | ratio | spread | FLOP ratio |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for i, b in enumerate(train["per_batch"]):
        add(f"| {i + 1} | {b['sentences']} | {b['tokens']} | {b['src_len']} | {b['tgt_len']} | "
            f"{b['seconds']['baseline']:.2f} | {b['seconds']['dagpam']:.2f} | {b['ratio']['dagpam']:.3f} | "
            f"{b['spread']['dagpam']:.3f} | {b['flops']['dagpam'] / b['flops']['baseline']:.3f} |")
    add(f"\nThroughput over these batches: baseline {train['throughput']['baseline']:.0f} target tokens/s, "
        f"daGPAM {train['throughput']['dagpam']:.0f} target tokens/s; time ratio (weighted by baseline "
        f"time) {train['ratio']:.3f}.\n")
    add("## (c) Beam-5 generation\n")
    add("fairseq's `SequenceGenerator`, beam 5, incremental decoding, the same untrained models as (b) in "
        f"eval mode, on ci_deen test sentences in batches of {s.gen_sentences} (sorted by length; the "
        "batches at evenly spaced length quantiles). Untrained models end sentences at random, so every "
        "hypothesis is forced to decode exactly (longest source + 2) steps (min_len = max_len): both "
        f"models do the same work. Median of {s.gen_rounds} interleaved rounds after one warm-up run.\n")
    add("| batch | sentences | src len | decoding steps | baseline s | daGPAM s | ratio | spread | FLOP ratio |")
    add("|---|---|---|---|---|---|---|---|---|")
    for i, b in enumerate(gen["per_batch"]):
        add(f"| {i + 1} | {b['sentences']} | {b['src_len']} | {b['steps']} | {b['seconds']['baseline']:.2f} | "
            f"{b['seconds']['dagpam']:.2f} | {b['ratio']['dagpam']:.3f} | {b['spread']['dagpam']:.3f} | "
            f"{b['flops']['dagpam'] / b['flops']['baseline']:.3f} |")
    add(f"\nThroughput: baseline {gen['throughput']['baseline']:.2f} sentences/s, daGPAM "
        f"{gen['throughput']['dagpam']:.2f} sentences/s; time ratio {gen['ratio']:.3f}.\n")
    add("## (d) Peak memory\n")
    add(MEMORY_METHOD + "\n")
    add("| workload | baseline | daGPAM | ratio |")
    add("|---|---|---|---|")
    tr = memory["train"]
    add(f"| training: 2 steps on the longest batch of (b) ({tr['baseline']['tokens']} target tokens; "
        f"gradients, Adam state, activations) | {_fmt_bytes(mem_base)} | {_fmt_bytes(mem_gpam)} | "
        f"{mem_gpam / mem_base:.3f} |")
    ge = memory["generate"]
    add(f"| generation: beam 5, {ge['baseline']['sentences']} sentences | {_fmt_bytes(ge['baseline']['peak'])} | "
        f"{_fmt_bytes(ge['dagpam']['peak'])} | {gen_mem_ratio:.3f} |")
    add("\nModule memory (fwd+bwd, two repeats) is in the table of (a).\n")
    add("## How FLOPs are counted\n")
    add("`torch.utils.flop_counter.FlopCounterMode` counts every matrix product executed (mm, addmm, bmm, "
        "2 FLOPs per multiply-add) from its shapes; for PyTorch's CPU flash-attention kernel, which it has "
        "no formula for, `scripts/bench_workloads.py` adds 2 products (QK^T, PV) forward and 5 backward "
        "(scores recomputed, dV, dP, dQ, dK), each 2 B H_q T S D_h. Pointwise work (softmax, masks, "
        "layer norm, dropout, the optimizer) is not counted, so the FLOP ratio is a floor only for the "
        "matrix work.")
    return "\n".join(L) + "\n"


def _explain_misses(rows, products) -> str:
    misses = [(label, key, value, floor) for label, key, value, floor in rows if value > TARGETS[key]]
    if not misses:
        return "All four targets are met in this run.\n"
    lines = ["Targets not met in this run, with the arithmetic floor and where the rest goes:\n"]
    for label, key, value, floor in misses:
        below = floor != "-" and float(floor) > TARGETS[key]
        lines.append(f"- {label}: measured {value:.3f} against the target {TARGETS[key]:.2f}; "
                     f"arithmetic floor {floor}" + (" (the target lies below it: the matrix products daGPAM "
                                                    "needs already cost more than it allows)" if below else "")
                     + ". " + WHY[key].format(**products))
    return "\n".join(lines) + "\n"


WHY = {
    "module": "Both score maps and both products with V are real work (the FLOP ratio); the "
              "negative-query product runs at a lower rate than the projections ({ratio:.2f} of a "
              "projection's time for {flop_ratio:.2f} of its FLOPs), and ReLU, stacking and combining are "
              "pointwise passes over B x T x C that the baseline does not make.",
    "train": "The floor is the FLOP ratio: the negative-query product (forward and two backward) costs "
             "{flop_ratio:.2f} of a projection product in FLOPs in every attention module, but {ratio:.2f} of "
             "its time (measured in this run, section (a)); the pointwise passes of daGPAM (ReLU, stacking "
             "the queries, combining the outputs) come on top, and on CPU the stacked queries are rebuilt "
             "in the backward pass (one more negative-query product) to keep one activation less.",
    "generate": "Each decoding step adds the negative query and a second score map per module; at one "
                "query per step these are many small operations whose fixed cost does not shrink.",
    "memory": "daGPAM keeps the outputs of the negative-query heads for the fused kernel's backward pass "
              "(one extra B x T x C tensor per attention module, with its softmax statistics), and its "
              "backward pass briefly holds the rebuilt stacked queries and their gradient, 2H heads where "
              "softmax attention has H.",
}


# --------------------------------------------------------------------------- raw measurements

MEASUREMENT_KEYS = ("machine", "command", "modules", "products", "train", "gen", "memory", "load", "elapsed")


def save_measurements(path: Path, s: Settings, measured: dict) -> None:
    write_atomic(path, json.dumps({"settings": asdict(s), **measured}, indent=1) + "\n")


def load_measurements(path: Path):
    """(Settings, measurements) from a file written by :func:`save_measurements`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        s = Settings(**data["settings"])
        measured = {key: data[key] for key in MEASUREMENT_KEYS}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"bench.py: {path} is not a raw-measurement file of scripts/bench.py ({e!r}); "
                         "give the .json written next to a report, or measure again without --render-only")
    return s, measured


# --------------------------------------------------------------------------- main

def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few lengths, small batches: a fast check")
    parser.add_argument("--out", type=Path, default=None,
                        help="report path (default results/benchmarks.md; results/benchmarks-quick.md with --quick)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads")
    parser.add_argument("--probe", choices=["module", "train", "generate"], help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--render-only", type=Path, metavar="JSON",
                        help="write the report from saved raw measurements (the .json beside a report)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.probe:
        print(json.dumps(memory_probe(args.probe, args.variant, args.quick)))
        return

    if args.render_only:
        s, measured = load_measurements(args.render_only)
        out = args.out or args.render_only.with_suffix(".md")
        write_atomic(out, render(s, **measured))
        print(f"wrote {out} from {args.render_only}")
        return

    out = args.out or REPO / "results" / ("benchmarks-quick.md" if args.quick else "benchmarks.md")
    s = Settings.make(args.quick)
    command = "python scripts/bench.py" + " ".join([""] + (argv if argv is not None else sys.argv[1:]))
    start, load_start = time.time(), os.getloadavg()[0]

    def log(msg):
        print(f"[{time.time() - start:6.0f}s] {msg}", flush=True)

    machine = describe_machine(args.threads)
    modules = bench_modules(s, log)
    products = bench_products(s)
    log(f"negative-query product / projection product: time x{products['ratio']:.2f}, "
        f"FLOPs x{products['flop_ratio']:.2f}")
    corpus = wl.load_corpus()
    models = build_models(corpus)
    train = bench_training(s, corpus, models, log)
    gen = bench_generation(s, corpus, models, log)
    del models
    gc.collect()
    memory = bench_memory(s, args.threads, log)
    measured = dict(machine=machine, command=command, modules=modules, products=products, train=train,
                    gen=gen, memory=memory, load=(load_start, os.getloadavg()[0]), elapsed=time.time() - start)
    save_measurements(out.with_suffix(".json"), s, measured)
    text = render(s, **measured)
    write_atomic(out, text)
    print(text)
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
