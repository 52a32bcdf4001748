"""``gpam bench``: speed and memory of daGPAM against fairseq's softmax attention, side by side in one run.

Measures on this machine's CPU (gpam_tools/bench/workloads.py says what each workload runs):
  (a) one attention module, forward + backward, ~4k tokens, lengths 32..512, width 512, 4 heads:
      fairseq's MultiheadAttention against every registered daGPAM/peer variant;
  (b) a training step of transformer_iwslt_de_en against gpam_transformer_iwslt_de_en;
  (c) beam-5 generation with fairseq's SequenceGenerator;
  (d) peak memory of each, in a fresh subprocess per variant (see memory.MEMORY_METHOD).
Times are medians over rounds after warm-up; inside a round the variants run one after
another in rotating order, so a load change on the shared cores hits all of them alike;
each ratio is the median over rounds of (variant time / baseline time in that round).
The report is written atomically to --out and printed; the raw measurements go next to it
(same name, .json), so --render-only can write the report again without measuring.
The GPU counterpart is ``gpam gpu-check``.

usage: gpam bench [--quick] [--out results/benchmarks.md] [--threads N]
       gpam bench --render-only results/benchmarks.json [--out ...]
"""

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch

from gpam_tools import REPO
from gpam_tools.atomic import write_text_atomic
from gpam_tools.bench import workloads as wl
from gpam_tools.bench.measure import bench_generation, bench_modules, bench_products, bench_training, build_models
from gpam_tools.bench.memory import bench_memory, memory_probe
from gpam_tools.bench.report import describe_machine, load_measurements, render, save_measurements
from gpam_tools.bench.settings import Settings



def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="gpam bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
        return 0

    if args.render_only:
        s, measured = load_measurements(args.render_only)
        out = args.out or args.render_only.with_suffix(".md")
        write_text_atomic(out, render(s, **measured))
        print(f"wrote {out} from {args.render_only}")
        return 0

    out = args.out or REPO / "results" / ("benchmarks-quick.md" if args.quick else "benchmarks.md")
    s = Settings.make(args.quick)
    command = "gpam bench" + " ".join([""] + (argv if argv is not None else sys.argv[1:]))
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
    write_text_atomic(out, text)
    print(text)
    log(f"wrote {out}")
    return 0

