"""The timed parts of ``gpam bench``: (a) attention modules, the negative-query product, (b) training
steps and (c) beam-5 generation of daGPAM against fairseq's softmax (workloads in ``workloads.py``)."""

from typing import Dict, List

import torch

from gpam_tools.bench import workloads as wl
from gpam_tools.bench.settings import Settings
from gpam_tools.bench.timing import interleaved


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
    return aggregate(per_batch, "tokens")


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
    return aggregate(per_batch, "sentences")


def aggregate(per_batch: List[dict], unit: str) -> dict:
    """Throughput over all batches (sum of units / sum of median times) and the time ratio."""
    total = sum(b[unit] for b in per_batch)
    seconds = {k: sum(b["seconds"][k] for b in per_batch) for k in per_batch[0]["seconds"]}
    flops = {k: sum(b["flops"][k] for b in per_batch) for k in per_batch[0]["flops"]}
    # time-weighted mean of the per-batch paired ratios
    weight = [b["seconds"]["baseline"] for b in per_batch]
    ratio = sum(w * b["ratio"]["dagpam"] for w, b in zip(weight, per_batch)) / sum(weight)
    return dict(per_batch=per_batch, unit=unit, throughput={k: total / v for k, v in seconds.items()},
                ratio=ratio, flop_ratio=flops["dagpam"] / flops["baseline"])
