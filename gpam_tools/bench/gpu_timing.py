"""Stage (d) of ``gpam gpu-check``: a full-size training step of daGPAM against fairseq's softmax,
side by side in one run: time, peak memory, FLOP floor and the attention kernel that served each call.

Two workloads, each built for the softmax baseline and for daGPAM with fairseq's own argument
parser (architecture defaults, so dropout as the recipe has it) on made-up dictionaries:

    translation   transformer_iwslt_de_en vs gpam_transformer_iwslt_de_en, sources and targets of
                  ``length`` tokens (sources left-padded to lengths drawn in [length/2, length],
                  so the key-padding mask is in play), about 4096 target tokens a batch
    language      transformer_lm vs gpam_transformer_lm, samples of ``length`` tokens (the paper's
                  WikiText-103 setting is 512), causal, no padding

One step = forward under autocast (fp16 on CUDA with a gradient scaler, bf16 on the CPU),
token cross-entropy, backward, Adam. Peak memory: ``torch.cuda.max_memory_allocated`` above
what was allocated before the first two steps (gradients, Adam state, activations; not the
parameters), on the CPU the resident high-water mark of ``gpam_tools.bench.memory.measure_peak``. FLOPs: ``workloads.count_flops``. Kernels: the
aten ops a ``torch.profiler`` trace of one step records, named by backend (BACKEND_OPS).
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F

from gpam_tools.analysis.count_params import build_model
from gpam_tools.bench import workloads as wl
from gpam_tools.bench.gpu_stage import StageResult, Stopwatch, half_dtype, synchronize
from gpam_tools.bench.memory import measure_peak
from gpam_tools.bench.timing import interleaved

TARGETS = {"step": 1.10, "memory": 1.10}  # daGPAM / baseline at 512 tokens
SDPA_OP = "aten::scaled_dot_product_attention"
BACKEND_OPS = {  # forward aten op of a fused kernel -> the SDPA backend it belongs to
    "aten::_scaled_dot_product_flash_attention": "flash",
    "aten::_scaled_dot_product_efficient_attention": "memory-efficient",
    "aten::_scaled_dot_product_cudnn_attention": "cuDNN",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "flash (CPU kernel)",
    "aten::_scaled_dot_product_fused_attention_overrideable": "fused (other device)",
}
MATH = "math (no fused kernel: scores materialised)"
EXPLICIT = "explicit softmax outside SDPA (the module's own path)"


@dataclass
class Size:
    """Model and batch sizes: ``full`` (the GPU figures) or ``tiny`` (the CPU rehearsal of every line)."""

    name: str
    length: int
    tokens: int
    translation_vocab: int
    lm_vocab: int
    extra_translation: List[str]
    extra_lm: List[str]
    warmup: int
    rounds: int


SIZES = {
    "full": Size("full", 512, 4096, 10_000, 32_000, ["--share-decoder-input-output-embed"],
                 ["--share-decoder-input-output-embed"], 2, 10),
    "tiny": Size("tiny", 16, 64, 64, 64,
                 ["--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "32",
                  "--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64", "--decoder-ffn-embed-dim", "64",
                  "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"],
                 ["--decoder-layers", "1", "--decoder-embed-dim", "32", "--decoder-input-dim", "32",
                  "--decoder-output-dim", "32", "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"],
                 0, 2),
}
PAIRS = {"translation": ("transformer_iwslt_de_en", "gpam_transformer_iwslt_de_en", "translation"),
         "language model": ("transformer_lm", "gpam_transformer_lm", "language_modeling")}


def make_batch(workload: str, size: Size, device: torch.device, seed: int = 0) -> dict:
    """A fairseq-shaped sample of random tokens (pad = 1, eos = 2) at ``size.length`` tokens a sequence."""
    g = torch.Generator().manual_seed(seed)
    vocab = size.translation_vocab if workload == "translation" else size.lm_vocab
    batch = max(1, size.tokens // size.length)
    tokens = torch.randint(4, vocab, (batch, size.length), generator=g)
    target = torch.randint(4, vocab, (batch, size.length), generator=g)
    net_input = {"src_tokens": tokens, "src_lengths": torch.full((batch,), size.length)}
    if workload == "translation":
        lengths = torch.randint(size.length // 2, size.length + 1, (batch,), generator=g)
        lengths[0] = size.length
        pad = torch.arange(size.length).unsqueeze(0) < (size.length - lengths).unsqueeze(1)
        net_input = {"src_tokens": tokens.masked_fill(pad, 1), "src_lengths": lengths,
                     "prev_output_tokens": torch.cat([torch.full((batch, 1), 2), target[:, :-1]], 1)}
    return {"net_input": {k: v.to(device) for k, v in net_input.items()}, "target": target.to(device)}


def training_step(model, sample: dict, device: torch.device) -> Callable[[], None]:
    """One update under autocast: forward, token cross-entropy (pad ignored), backward, Adam."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    dtype = half_dtype(device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype):
            lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
            loss = F.nll_loss(lprobs.view(-1, lprobs.size(-1)).float(), sample["target"].view(-1),
                              ignore_index=1, reduction="sum")
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        synchronize(device)

    return step


def peak_memory(step: Callable[[], None], device: torch.device, repeats: int = 2) -> int:
    """Bytes allocated at the peak of ``repeats`` steps above what was allocated before them."""
    if device.type != "cuda":
        return measure_peak(step, repeats)
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    for _ in range(repeats):
        step()
    return torch.cuda.max_memory_allocated(device) - before


def attention_backends(step: Callable[[], None]) -> Dict[str, int]:
    """{backend: forward calls} in a torch.profiler trace of one step.

    Each outermost ``aten::scaled_dot_product_attention`` call is attributed to the fused kernel
    op found beneath it (BACKEND_OPS), or to the math path when there is none; a fused kernel op
    called outside any SDPA call (daGPAM's CPU fast path calls one directly) counts as
    ``<backend>, called directly``, and an ``aten::softmax`` outside SDPA as EXPLICIT (fairseq's
    module computes the weights itself when PyTorch's fused path does not apply).
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as trace:  # aten ops are recorded on the host
        step()
    counts: Counter = Counter()
    for event in trace.events():
        if event.name == SDPA_OP and not _under(event, {SDPA_OP}):
            kernels = [BACKEND_OPS[e.name] for e in _descendants(event) if e.name in BACKEND_OPS]
            counts[kernels[0] if kernels else MATH] += 1
        elif event.name in BACKEND_OPS and not _under(event, {SDPA_OP} | set(BACKEND_OPS)):
            counts[f"{BACKEND_OPS[event.name]}, called directly"] += 1
        elif event.name == "aten::softmax" and not _under(event, {SDPA_OP} | set(BACKEND_OPS)):
            counts[EXPLICIT] += 1
    return dict(sorted(counts.items()))


def _under(event, names) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in names:
            return True
        parent = parent.cpu_parent
    return False


def _descendants(event):
    stack = list(event.cpu_children)
    while stack:
        child = stack.pop()
        yield child
        stack.extend(child.cpu_children)


def measure_workload(workload: str, size: Size, device: torch.device, workdir: Path) -> dict:
    base_arch, gpam_arch, task = PAIRS[workload]
    vocab = size.translation_vocab if workload == "translation" else size.lm_vocab
    extra = size.extra_translation if workload == "translation" else size.extra_lm
    if task == "language_modeling":
        extra = extra + ["--tokens-per-sample", str(size.length)]
    sample = make_batch(workload, size, device)
    steps, result = {}, {"archs": {"baseline": base_arch, "dagpam": gpam_arch}, "peak": {}, "flops": {},
                         "backends": {}, "length": size.length, "sentences": int(sample["target"].size(0))}
    for label, arch in (("baseline", base_arch), ("dagpam", gpam_arch)):
        torch.manual_seed(1)
        (workdir / label).mkdir(parents=True, exist_ok=True)
        model = build_model(arch, task, vocab, extra, workdir / label).to(device)
        steps[label] = training_step(model, sample, device)
        result["peak"][label] = peak_memory(steps[label], device)  # first steps: Adam state included
        result["flops"][label] = wl.count_flops(steps[label])
        result["backends"][label] = attention_backends(steps[label])
    timing = interleaved(steps, size.rounds, size.warmup, "baseline")
    result.update(seconds=timing.median, ratio=timing.ratio["dagpam"], spread=timing.spread["dagpam"],
                  flop_ratio=result["flops"]["dagpam"] / result["flops"]["baseline"],
                  memory_ratio=(result["peak"]["dagpam"] / result["peak"]["baseline"]
                                if result["peak"]["baseline"] > 0 else float("nan")),
                  dtype=str(half_dtype(device)).replace("torch.", ""), rounds=size.rounds, warmup=size.warmup)
    return result


def run_timing(device: torch.device, size: Size, workdir: Path) -> StageResult:
    clock = Stopwatch()
    data, lines, ok = {}, [], True
    for workload in PAIRS:
        try:
            r = measure_workload(workload, size, device, workdir / workload.replace(" ", "_"))
        except Exception as error:  # e.g. out of memory: the finding, reported
            ok = False
            lines.append(f"{workload}: FAILED ({type(error).__name__}: {str(error)[:300]})")
            continue
        data[workload] = r
        lines.append(f"{workload} at {size.length} tokens: step x{r['ratio']:.3f} (FLOP floor x{r['flop_ratio']:.3f}), "
                     f"peak memory x{r['memory_ratio']:.3f}; kernels: daGPAM {r['backends']['dagpam']}, "
                     f"softmax {r['backends']['baseline']}")
    return StageResult("training step, memory, kernels", ok, lines, clock(), data)
