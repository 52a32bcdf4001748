#!/usr/bin/env python
"""The alternatives table at CPU scale: every attention variant in the same deep, narrow LM.

The paper (Heo & Choi, Table 1) compares daGPAM with NON, NAP and CoDA on Penn
Treebank with a ~15-layer model. This script trains one ``gpam_transformer_lm``
per (variant, seed) with identical settings and budget (same updates, tokens
per update, learning-rate schedule), scores each on the test split with
``fairseq-eval-lm``, and writes:

    <out>/alternatives.csv, <out>/alternatives.md   test perplexity per variant (mean, per seed)
    <out>/runs/<variant>/seed<k>/train.log, eval.log, result.json, command.txt
    <out>/../per_layer/alternatives_per_layer.{csv,md,png}, ..._attention_<variant>.png
        per-layer residual, cosine and W_q-gradient curves of softmax vs daGPAM from
        those checkpoints (scripts/analyze_checkpoint.py), averaged over seeds

Every number in the table is parsed from those logs; nothing is typed in.
Re-running skips runs whose result.json exists (so an interrupted grid resumes).

Data: by default the shipped English Wikipedia sample (data-prep/corpora/ci_lm,
54k training words), lower-cased and split off punctuation by this script, words
seen once mapped to <unk>. Pass ``--raw-dir`` with {train,valid,test}.txt (or
ptb.{train,valid,test}.txt, or wiki.*.tokens) to use Penn Treebank or another
corpus through the same pipeline, or ``--data-bin`` with an already binarised
fairseq language-modelling directory.

Usage (the command behind results/analysis/alternatives*):
    nice -n 10 python scripts/alternatives_study.py --seeds 1 2 --jobs 4
    python scripts/alternatives_study.py --aggregate-only     # rebuild the table from the logs
    python scripts/alternatives_study.py --per-layer-only     # redo the per-layer figure from the checkpoints
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import mean
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "fairseq_gpam"
DEFAULT_RAW = REPO / "data-prep" / "corpora" / "ci_lm"

# name -> extra fairseq-train flags; every run also gets MODEL_FLAGS and TRAIN_FLAGS
VARIANTS: Dict[str, List[str]] = {
    "softmax": ["--gpam-attention", "softmax"],
    "dagpam": ["--gpam-attention", "dagpam", "--gpam-lambda-neg", "0.2"],
    "dagpam_trainable": ["--gpam-attention", "dagpam", "--gpam-lambda-neg", "0.2",
                         "--gpam-lambda-mode", "layer"],
    "non": ["--gpam-attention", "non"],
    "nap": ["--gpam-attention", "nap"],
    "coda": ["--gpam-attention", "coda"],
    "diff": ["--gpam-attention", "diff"],
    "cog": ["--gpam-attention", "cog"],
}


def model_flags(args) -> List[str]:
    """The deep, narrow pre-LayerNorm LM (fairseq's transformer_lm defaults otherwise)."""
    return [
        "--arch", "gpam_transformer_lm",
        "--decoder-layers", str(args.layers),
        "--decoder-embed-dim", str(args.dim),
        "--decoder-ffn-embed-dim", str(4 * args.dim),
        "--decoder-attention-heads", str(args.heads),
        "--share-decoder-input-output-embed",
        "--dropout", "0.1",
    ]


def train_flags(args) -> List[str]:
    """Identical optimisation budget for every variant."""
    return [
        "--task", "language_modeling",
        "--tokens-per-sample", str(args.tokens_per_sample),
        "--sample-break-mode", "none",
        "--max-tokens", str(args.max_tokens),
        "--max-update", str(args.max_update),
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)",
        "--lr", str(args.lr), "--lr-scheduler", "inverse_sqrt", "--warmup-updates", str(args.warmup),
        "--clip-norm", "1.0",
        "--criterion", "cross_entropy",
        "--no-epoch-checkpoints", "--save-interval-updates", "0",
        "--log-interval", "25", "--no-progress-bar", "--num-workers", "0",
        "--disable-validation",
    ]


def tokenize_line(line: str) -> str:
    """Lower-case, words and numbers kept whole, every other symbol its own token."""
    return " ".join(re.findall(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", line.lower()))


def find_split(raw_dir: Path, split: str) -> Path:
    for name in (f"{split}.txt", f"ptb.{split}.txt", f"wiki.{split}.tokens"):
        if (raw_dir / name).is_file():
            return raw_dir / name
    raise SystemExit(
        f"error: no {split} split in {raw_dir}; expected {split}.txt, ptb.{split}.txt or wiki.{split}.tokens"
    )


def prepare(raw_dir: Path, work: Path) -> Path:
    """Tokenise the raw splits and binarise them; returns the data-bin directory."""
    bin_dir = work / "data-bin"
    if (bin_dir / "test.bin").is_file():
        return bin_dir
    text_dir = work / "text"
    text_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        lines = find_split(raw_dir, split).read_text(encoding="utf-8").splitlines()
        tokens = [tokenize_line(line) for line in lines if line.strip()]
        (text_dir / f"{split}.txt").write_text("\n".join(t for t in tokens if t) + "\n", encoding="utf-8")
    tmp = Path(tempfile.mkdtemp(dir=work, prefix="data-bin."))
    subprocess.run(
        [sys.executable, "-m", "fairseq_cli.preprocess", "--only-source",
         "--trainpref", text_dir / "train.txt", "--validpref", text_dir / "valid.txt",
         "--testpref", text_dir / "test.txt", "--destdir", tmp, "--thresholdsrc", "2", "--workers", "1"],
        check=True,
    )
    tmp.rename(bin_dir)
    return bin_dir


def run_logged(cmd: List[str], log: Path) -> str:
    """Run cmd, tee its output into log, return the output; fail loudly."""
    with open(log, "w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(map(str, cmd)) + "\n")
        fh.flush()
        # one thread per run: parallel runs (--jobs) must not oversubscribe the cores
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.run(list(map(str, cmd)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env)
        fh.write(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}), see {log}")
    return proc.stdout


def parse_eval(text: str) -> Dict[str, float]:
    """fairseq-eval-lm's closing line: 'Loss (base 2): 6.1234, Perplexity: 70.01'."""
    match = re.search(r"Loss \(base 2\): ([0-9.]+), Perplexity: ([0-9.]+)", text)
    if not match:
        raise RuntimeError("no perplexity line in the eval-lm output")
    return {"test_loss_base2": float(match.group(1)), "test_ppl": float(match.group(2))}


def parse_train(text: str) -> Dict[str, float]:
    """Last training loss (base 2) and wall time of the run, from fairseq's log."""
    losses = re.findall(r"train_inner \|.*? loss=([0-9.]+).*?wall=([0-9]+)", text)
    final = re.findall(r"\| train \| .*?\| loss ([0-9.]+) .*?\| wall ([0-9]+)", text)
    out = {}
    if losses:
        out["last_train_loss_base2"] = float(losses[-1][0])
    if final:
        out["train_wall_s"] = float(final[-1][1])
    return out


def train_and_score(args, bin_dir: Path, variant: str, seed: int) -> Path:
    run_dir = args.out / "runs" / variant / f"seed{seed}"
    result_file = run_dir / "result.json"
    if result_file.is_file():
        return result_file
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = args.work / "checkpoints" / variant / f"seed{seed}"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    train_cmd = [sys.executable, "-m", "fairseq_cli.train", bin_dir, "--user-dir", PLUGIN,
                 *model_flags(args), *train_flags(args), *VARIANTS[variant],
                 "--seed", str(seed), "--save-dir", ckpt_dir]
    eval_cmd = [sys.executable, "-m", "fairseq_cli.eval_lm", bin_dir, "--user-dir", PLUGIN,
                "--path", ckpt_dir / "checkpoint_last.pt", "--gen-subset", "test",
                "--tokens-per-sample", str(args.tokens_per_sample), "--context-window", str(args.context_window),
                "--max-tokens", "4096", "--num-workers", "0"]
    (run_dir / "command.txt").write_text(
        "\n".join(" ".join(map(str, c)) for c in (train_cmd, eval_cmd)) + "\n", encoding="utf-8")
    shutil.copy(Path(__file__), ckpt_dir / Path(__file__).name)  # the script beside its checkpoints
    start = time.time()
    train_out = run_logged(train_cmd, run_dir / "train.log")
    eval_out = run_logged(eval_cmd, run_dir / "eval.log")
    result = {"variant": variant, "seed": seed, **parse_train(train_out), **parse_eval(eval_out),
              "elapsed_s": round(time.time() - start, 1), "checkpoint": str(ckpt_dir / "checkpoint_last.pt"),
              "scale": scale_dict(args)}
    tmp = result_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.rename(result_file)
    return result_file


def scale_dict(args) -> Dict[str, object]:
    return {"layers": args.layers, "dim": args.dim, "heads": args.heads, "ffn": 4 * args.dim,
            "tokens_per_sample": args.tokens_per_sample, "max_tokens": args.max_tokens,
            "max_update": args.max_update, "lr": args.lr, "warmup": args.warmup,
            "context_window": args.context_window, "data": str(args.data_name)}


def aggregate(out: Path, quiet: bool = False) -> None:
    """alternatives.csv / .md from every runs/*/seed*/result.json."""
    results = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/seed*/result.json"))]
    if not results:
        raise SystemExit(f"error: no finished runs under {out}/runs")
    by_variant: Dict[str, List[dict]] = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(r)
    order = [v for v in VARIANTS if v in by_variant]
    rows = []
    for v in order:
        runs = sorted(by_variant[v], key=lambda r: r["seed"])
        ppls = [r["test_ppl"] for r in runs]
        rows.append((v, mean(ppls), min(ppls), max(ppls), runs))
    csv_lines = ["variant,seeds,test_ppl_mean,test_ppl_min,test_ppl_max,per_seed"]
    for v, m, lo, hi, runs in rows:
        per_seed = " ".join(f"{r['seed']}:{r['test_ppl']:.2f}" for r in runs)
        csv_lines.append(f"{v},{len(runs)},{m:.2f},{lo:.2f},{hi:.2f},{per_seed}")
    scale = results[0]["scale"]
    mixed = any(r["scale"] != scale for r in results)
    md = [
        "# Alternatives at CPU scale: test perplexity",
        "",
        f"Scale: {scale['layers']}-layer pre-LN decoder-only LM, d={scale['dim']}, ffn={scale['ffn']}, "
        f"{scale['heads']} heads; data: {scale['data']}; {scale['max_update']} updates of at most "
        f"{scale['max_tokens']} tokens (blocks of {scale['tokens_per_sample']}), Adam lr {scale['lr']}, "
        f"inverse-sqrt warm-up {scale['warmup']}; last checkpoint; `fairseq-eval-lm --context-window "
        f"{scale['context_window']}` on the test split; one CPU process per run.",
        "The paper's Table 1 is Penn Treebank with a ~15-layer, 20M+ parameter model; these numbers "
        "are a scaled-down comparison on other text and do not reproduce it.",
        "" if not mixed else "WARNING: the runs below do not all share the same scale (see result.json).",
        "",
        "| variant | seeds | test ppl (mean) | min | max | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for v, m, lo, hi, runs in rows:
        per_seed = ", ".join(f"{r['seed']}: {r['test_ppl']:.2f}" for r in runs)
        md.append(f"| {v} | {len(runs)} | {m:.2f} | {lo:.2f} | {hi:.2f} | {per_seed} |")
    missing = [v for v in VARIANTS if v not in by_variant]
    if missing:
        md += ["", "Not run (yet): " + ", ".join(missing)]
    md += ["", "Regenerate: `nice -n 10 python scripts/alternatives_study.py` (see its --help); "
           "per-run logs and commands are in runs/<variant>/seed<k>/."]
    for name, text in (("alternatives.csv", "\n".join(csv_lines)), ("alternatives.md", "\n".join(md))):
        tmp = out / (name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.rename(out / name)
    if not quiet:
        print("\n".join(md))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--raw-dir", type=Path, default=DEFAULT_RAW, help="raw text splits (default: ci_lm)")
    data.add_argument("--data-bin", type=Path, help="an already binarised LM directory (skips preparation)")
    model = parser.add_argument_group("model")
    model.add_argument("--layers", type=int, default=15)
    model.add_argument("--dim", type=int, default=64)
    model.add_argument("--heads", type=int, default=4)
    budget = parser.add_argument_group("budget (identical for every variant)")
    budget.add_argument("--max-update", type=int, default=240)
    budget.add_argument("--max-tokens", type=int, default=512)
    budget.add_argument("--tokens-per-sample", type=int, default=64)
    budget.add_argument("--lr", type=float, default=2e-3)
    budget.add_argument("--warmup", type=int, default=50)
    budget.add_argument("--context-window", type=int, default=32)
    grid = parser.add_argument_group("grid")
    grid.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    grid.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    grid.add_argument("--jobs", type=int, default=1, help="runs in parallel, one thread each")
    where = parser.add_argument_group("outputs")
    where.add_argument("--out", type=Path, default=REPO / "results" / "analysis" / "alternatives")
    where.add_argument("--work", type=Path, default=Path(os.environ.get("GPAM_WORK", "/tmp/gpam_alternatives")),
                       help="data-bin and checkpoints (large; not committed)")
    where.add_argument("--aggregate-only", action="store_true", help="only rebuild the table from the logs")
    where.add_argument("--per-layer-only", action="store_true",
                       help="only run the per-layer analysis on the finished checkpoints")
    where.add_argument("--per-layer-variants", nargs="+", default=["softmax", "dagpam", "dagpam_trainable"])
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.aggregate_only:
        aggregate(args.out)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    if args.per_layer_only:
        per_layer(args, args.data_bin or args.work / "data-bin")
        return
    if args.data_bin:
        if not (args.data_bin / "dict.txt").is_file():
            raise SystemExit(f"error: {args.data_bin} has no dict.txt; is it a fairseq LM data-bin?")
        bin_dir, args.data_name = args.data_bin, args.data_bin.name
    else:
        bin_dir = prepare(args.raw_dir, args.work)
        args.data_name = f"{args.raw_dir.relative_to(REPO) if args.raw_dir.is_relative_to(REPO) else args.raw_dir}"
    # seeds outermost: a partial grid still has every variant at the first seed
    grid = [(variant, seed) for seed in args.seeds for variant in args.variants]
    table_lock = threading.Lock()

    def one(job):
        variant, seed = job
        print(f"[{time.strftime('%H:%M:%S')}] start {variant} seed {seed}", flush=True)
        try:
            train_and_score(args, bin_dir, variant, seed)
            print(f"[{time.strftime('%H:%M:%S')}] done {variant} seed {seed}", flush=True)
            with table_lock:  # the table is rewritten as runs finish
                aggregate(args.out, quiet=True)
        except RuntimeError as err:
            print(f"[{time.strftime('%H:%M:%S')}] FAILED {variant} seed {seed}: {err}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, grid))
    aggregate(args.out)
    per_layer(args, bin_dir)


def per_layer(args, bin_dir: Path) -> None:
    """Per-layer curves (residual, cosine, W_q gradient) of the finished checkpoints, seeds averaged."""
    checkpoints, labels = [], []
    for variant in args.per_layer_variants:
        for result in sorted((args.out / "runs" / variant).glob("seed*/result.json")):
            checkpoints.append(json.loads(result.read_text())["checkpoint"])
            labels.append(variant)
    if not checkpoints:
        raise SystemExit("error: no finished checkpoint of " + ", ".join(args.per_layer_variants))
    scale = json.loads(next((args.out / "runs").glob("*/seed*/result.json")).read_text())["scale"]
    note = (f"{scale['layers']}-layer pre-LN LM, d={scale['dim']}, {scale['max_update']} updates of "
            f"{scale['max_tokens']} tokens on {scale['data']} (CPU scale; the paper's Figure 4 is PTB, ~15 layers).")
    cmd = [sys.executable, str(REPO / "scripts" / "analyze_checkpoint.py"), "--data", str(bin_dir),
           "--split", "test", "--out", str(args.out.parent / "per_layer"), "--prefix", "alternatives_per_layer",
           "--note", note]
    for checkpoint, label in zip(checkpoints, labels):
        cmd += ["--checkpoint", checkpoint, "--label", label]
    (args.out.parent / "per_layer").mkdir(parents=True, exist_ok=True)
    run_logged(cmd, args.out.parent / "per_layer" / "alternatives_per_layer.log")


if __name__ == "__main__":
    main()
