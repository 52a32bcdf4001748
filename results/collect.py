"""Collect training logs and evaluation results into baseline-vs-daGPAM tables and plots.

    python results/collect.py RUNS_DIR [RUNS_DIR ...] --out OUT_DIR [--refs DIR]

Reads every run directory written by ``scripts/train.sh`` under the given roots (``run-info.json``,
``train.log``, and the ``eval-translation.*.json`` / ``eval-lm.*.json`` written by the
evaluation scripts) and writes to OUT_DIR:

* ``summary.md`` / ``summary.csv``: per benchmark and setting, the softmax baseline against each
  daGPAM system: mean and sample standard deviation over seeds, the difference, the p-value of
  paired bootstrap resampling for BLEU (Koehn 2004, as implemented by sacreBLEU: 1000 resamples,
  per seed, baseline vs daGPAM of the same seed), and the paper's figure where one exists;
* ``<benchmark>.md`` / ``<benchmark>.csv``: the same rows for one benchmark, and every run with its
  scale (parameters, training data, updates, effective batch, hardware, training time);
* ``valid_loss.<benchmark>.<setting>.png``: validation loss against updates for every run.

Every number comes from the files read; nothing is typed in except the paper's figures below.
"""

import argparse
import csv
import io
import json
import math
import os
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from scipy.stats import ttest_rel

# The paper's figures (Heo & Choi, arXiv 2410.15578), as recovered in the project's DESIGN.md,
# section 1 ("Numbers recovered", from secondary sources: the paper's tables were not readable).
# Shown beside ours only for a full-size run of the same benchmark, direction and model.
PAPER = [
    {"dataset": "ptb", "model": None, "metric": "perplexity", "softmax": 108.26, "dagpam": 106.38,
     "setting": "PTB LM, ~15-layer model, best daGPAM = trainable lambdas (Table 1)"},
    {"dataset": "wikitext-103", "model": "lm8", "metric": "perplexity", "softmax": 25.96, "dagpam": 25.33,
     "setting": "WikiText-103, 8-layer LM"},
    {"dataset": "iwslt14.de-en", "model": "iwslt", "ln": "pre", "src": "en", "tgt": "de", "metric": "bleu",
     "softmax": 28.54, "dagpam": 29.25, "setting": "IWSLT14 En-De, pre-LayerNorm"},
]
PAPER_SOURCE = "Heo & Choi 2024 (arXiv 2410.15578) via DESIGN.md section 1"

BLEU_METRICS = [("bleu_tokenized", "tokenized BLEU"), ("sacrebleu", "sacreBLEU"),
                ("bleu_compound_split", "compound-split BLEU")]
LM_METRICS = [("perplexity", "test perplexity")]
LOWER_IS_BETTER = {"perplexity"}
BOOTSTRAP_SAMPLES = 1000


def metrics_of(task):
    """The (result key, label) pairs a run of ``task`` is scored by."""
    return BLEU_METRICS if task == "translation" else LM_METRICS


# ---------------------------------------------------------------- reading runs

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \|")


def _when(line: str):
    """The time stamp of a fairseq log line, or None."""
    stamp = _STAMP.match(line)
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S") if stamp else None


def _stats(line: str):
    """The json record of a fairseq log line, or None for a line cut short by a kill."""
    try:
        return json.loads(line[line.index("{"):])
    except json.JSONDecodeError:
        return None


def parse_train_log(path: Path) -> dict:
    """Parameters, validation losses, updates and training time from a fairseq-train log (json format).

    A log may hold several segments: a run cut off mid-training and restarted resumes from its last
    checkpoint and appends to the same log. A finished segment counts with fairseq's own "done
    training in" figure; a cut-off one counts from its checkpoint loading to the last checkpoint it
    saved, so the updates it lost (and repeated after the restart) are not counted twice.
    """
    out = {"valid": [], "params": None, "updates": None, "train_seconds": None, "segments": 0}
    if not path.is_file():
        return out
    total, seg_start, seg_saved = None, None, None

    def close_cut_off_segment():
        nonlocal total
        if seg_start is not None and seg_saved is not None:
            total = (total or 0) + (seg_saved - seg_start).total_seconds()

    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        lower = line.lower()
        if "num. shared model params:" in line or "num. model params:" in line:
            m = re.search(r"params: ([\d,]+)", line)
            out["params"] = int(m.group(1).replace(",", ""))
        elif ("loaded checkpoint" in lower or "no existing checkpoint found" in lower) and _when(line):
            close_cut_off_segment()
            out["segments"] += 1
            seg_start, seg_saved = _when(line), None
        elif "saved checkpoint" in lower and _when(line):
            seg_saved = _when(line)
        elif "| valid |" in line and "{" in line:
            stats = _stats(line)
            if stats:
                out["valid"].append((int(float(stats["valid_num_updates"])), float(stats["valid_loss"])))
        elif "| train |" in line and "{" in line:
            stats = _stats(line)
            if stats:
                out["updates"] = int(float(stats.get("train_num_updates", 0)))
        elif "done training in" in line:
            total = (total or 0) + float(re.search(r"done training in ([\d.]+) seconds", line).group(1))
            seg_start = seg_saved = None
    close_cut_off_segment()
    out["train_seconds"] = total
    # a resumed run logs validation again: keep the latest value per update count
    out["valid"] = sorted(dict(out["valid"]).items())
    return out


def read_runs(roots):
    """Every run under ``roots`` with its run-info, log facts and evaluation results."""
    runs = []
    for root in roots:
        for info_path in sorted(Path(root).rglob("run-info.json")):
            run_dir = info_path.parent
            info = json.loads(info_path.read_text())
            if str(info.get("dry_run", "0")) == "1":
                continue
            run = {"dir": run_dir, "rel": run_dir.relative_to(root).as_posix(), "info": info,
                   "log": parse_train_log(run_dir / "train.log"), "evals": {}}
            for eval_path in sorted(run_dir.glob("eval-*.json")):
                result = json.loads(eval_path.read_text())
                run["evals"][result.get("checkpoint", eval_path.stem)] = result
            runs.append(run)
    return runs


# ---------------------------------------------------------------- statistics

def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(mean, std, digits=2):
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def paired_bootstrap(base_hyps, sys_hyps, refs):
    """Two-sided p-value of the BLEU difference (sacreBLEU's paired bootstrap tests |BLEU_sys - BLEU_base|)."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    test = PairedTest([("baseline", base_hyps), ("system", sys_hyps)], {"BLEU": BLEU()}, [refs],
                      test_type="bs", n_samples=BOOTSTRAP_SAMPLES)
    _, scores = test()
    return scores["BLEU"][1].p_value


def find_refs(run, ref_dirs):
    """The raw test references of a translation run: in a --refs dir, else in the data's text dir."""
    info = run["info"]
    name = f"{info['dataset']}.test.raw.{info['tgt']}"
    for ref_dir in ref_dirs:
        if (Path(ref_dir) / name).is_file():
            return Path(ref_dir) / name
    data_bin = Path(info.get("data_bin", ""))
    candidate = data_bin.parent.parent / "text" / data_bin.name / f"test.raw.{info['tgt']}"
    return candidate if candidate.is_file() else None


# ---------------------------------------------------------------- grouping

def setting_of(info):
    """Runs that differ only in attention and seed share a setting (train.sh's --tag separates settings)."""
    direction = f"{info['src']}-{info['tgt']}" if info.get("src") else ""
    return (info["dataset"], direction, info["preset"], info["model"], info["ln"], info.get("tag") or "")


def setting_label(setting):
    dataset, direction, preset, model, ln, tag = setting
    return ", ".join(x for x in (dataset, direction, f"{preset} preset", f"model {model}", f"{ln}-LN",
                                 tag and f"tag {tag}") if x)


def paper_row(setting, metric):
    dataset, direction, preset, model, ln, _ = setting
    if preset != "full":
        return None
    for row in PAPER:
        if row["dataset"] != dataset or (row["model"] and row["model"] != model):
            continue
        if row.get("ln") and row["ln"] != ln:
            continue
        if row.get("src") and f"{row['src']}-{row['tgt']}" != direction:
            continue
        if (row["metric"] == "bleu") == metric.startswith(("bleu", "sacre")):
            return row
    return None


def summarise(runs, ref_dirs):
    """Rows of the side-by-side table: one per setting, checkpoint, metric and daGPAM system."""
    by_setting = defaultdict(lambda: defaultdict(list))
    for run in runs:
        by_setting[setting_of(run["info"])][run["info"]["system"]].append(run)
    rows = []
    for setting in sorted(by_setting):
        systems = by_setting[setting]
        baseline = systems.get("softmax", [])
        checkpoints = sorted({c for rs in systems.values() for r in rs for c in r["evals"]})
        for system in sorted(s for s in systems if s != "softmax") or ["softmax"]:
            treated = systems.get(system, []) if system != "softmax" else []
            for ckpt in checkpoints:
                task = (baseline or treated)[0]["info"]["task"]
                metrics = metrics_of(task)
                for key, label in metrics:
                    base_vals = {r["info"]["seed"]: r["evals"][ckpt].get(key) for r in baseline if ckpt in r["evals"]}
                    sys_vals = {r["info"]["seed"]: r["evals"][ckpt].get(key) for r in treated if ckpt in r["evals"]}
                    if all(v is None for v in list(base_vals.values()) + list(sys_vals.values())):
                        continue
                    bm, bs = mean_std(base_vals.values())
                    sm, ss = mean_std(sys_vals.values())
                    p_values = []
                    if key == "sacrebleu":
                        for seed in sorted(set(base_vals) & set(sys_vals)):
                            p_values.append((seed, bootstrap_for(baseline, treated, seed, ckpt, ref_dirs)))
                    seed_test = paired_t_over_seeds(base_vals, sys_vals)
                    per_seed = ", ".join(f"seed {s}: {sys_vals[s] - base_vals[s]:+.2f}"
                                         for s in paired_seeds(base_vals, sys_vals))
                    paper = paper_row(setting, key)
                    sample = (baseline or treated)[0]
                    rows.append({
                        "benchmark": setting[0], "setting": setting_label(setting), "checkpoint": ckpt,
                        "metric": label, "daGPAM system": system,
                        "seeds (baseline/daGPAM)": f"{len(base_vals)}/{len(sys_vals)}",
                        "baseline": fmt(bm, bs), "daGPAM": fmt(sm, ss),
                        "difference": "–" if bm is None or sm is None else f"{sm - bm:+.2f}",
                        "better mean": "–" if bm is None or sm is None else (
                            "tie" if round(sm, 2) == round(bm, 2) else
                            "daGPAM" if (sm < bm if key in LOWER_IS_BETTER else sm > bm) else "baseline"),
                        "difference per seed": per_seed or "–",
                        "p (paired bootstrap, per seed)": ", ".join(
                            f"seed {s}: {p:.3f}" if p is not None else f"seed {s}: n/a" for s, p in p_values) or "–",
                        "p (paired t-test over seeds)": seed_test,
                        "train time (baseline/daGPAM)": train_minutes(baseline, treated),
                        "paper baseline": paper["softmax"] if paper else "–",
                        "paper daGPAM": paper["dagpam"] if paper else "–",
                        "paper setting": f"{paper['setting']} [{PAPER_SOURCE}]" if paper else "–",
                        "metric definition": metric_definition(key, sample, ckpt),
                        "scale": scale_of(baseline, treated),
                    })
    return rows


def paired_seeds(base_vals, sys_vals):
    """The seeds with a value for both the baseline and daGPAM, in order."""
    return sorted(s for s in set(base_vals) & set(sys_vals) if base_vals[s] is not None and sys_vals[s] is not None)


def paired_t_over_seeds(base_vals, sys_vals):
    """Two-sided paired t-test of daGPAM against the baseline over the seeds both have: 'p (n=N)'.

    Pairs by seed (the seed fixes initialisation and data order in both systems); needs 2 pairs
    with differences that are not all equal.
    """
    seeds = paired_seeds(base_vals, sys_vals)
    diffs = [sys_vals[s] - base_vals[s] for s in seeds]
    if len(diffs) < 2 or max(diffs) == min(diffs):
        return "–"
    p = ttest_rel([sys_vals[s] for s in seeds], [base_vals[s] for s in seeds]).pvalue
    return f"{p:.3f} (n={len(diffs)})"


def train_minutes(baseline, treated):
    """Mean training wall time per run, baseline / daGPAM, in minutes."""
    means = [mean_std([r["log"]["train_seconds"] for r in runs])[0] for runs in (baseline, treated)]
    return " / ".join("–" if m is None else f"{m / 60:.1f} min" for m in means)


def bootstrap_for(baseline, treated, seed, ckpt, ref_dirs):
    base = next(r for r in baseline if r["info"]["seed"] == seed)
    system = next(r for r in treated if r["info"]["seed"] == seed)
    refs_path = find_refs(base, ref_dirs)
    files = [r["dir"] / r["evals"][ckpt].get("hypotheses_file", "") for r in (base, system)]
    if refs_path is None or not all(f.is_file() for f in files):
        return None
    refs = refs_path.read_text(encoding="utf-8").splitlines()
    hyps = [f.read_text(encoding="utf-8").splitlines() for f in files]
    return paired_bootstrap(hyps[0], hyps[1], refs)


def scale_of(baseline, treated):
    """Model size, data, updates, batch and hardware of a comparison, in one line."""
    runs = list(baseline) + list(treated)
    info, hw = runs[0]["info"], runs[0]["info"].get("hardware", {})
    params = "/".join(sorted({f"{r['log']['params'] / 1e6:.2f}M" for r in runs if r["log"]["params"]}))
    updates = "/".join(sorted({str(r["log"]["updates"]) for r in runs if r["log"]["updates"] is not None}))
    where = f"{hw.get('gpus')} GPU" if hw.get("gpus") else f"{hw.get('cpu_cores')} CPU cores"
    seeds = ",".join(sorted({str(r["info"]["seed"]) for r in runs}))
    return (f"{params or '?'} params, {info.get('train_lines') or '?'} training lines, {updates or '?'} updates "
            f"x {info.get('effective_batch_tokens')} tokens, seeds {seeds}, {where}")


def metric_definition(key, run, ckpt):
    result = run["evals"].get(ckpt, {})
    if key == "perplexity":
        return (f"fairseq-eval-lm on {result.get('subset', 'test')}, per token of the binarised data "
                f"(BPE tokens for the offline corpora, words for WikiText-103 and PTB), tokens per sample "
                f"{result.get('tokens_per_sample')}, context window {result.get('context_window')}")
    beam = f"beam {result.get('beam')}, lenpen {result.get('lenpen')}"
    if key == "sacrebleu":
        return f"detokenised sacreBLEU {result.get('sacrebleu_signature')}, {beam}"
    if key == "bleu_compound_split":
        return f"tokenized BLEU after compound splitting, {beam}"
    return f"tokenized BLEU after --remove-bpe ({result.get('bpe')} BPE, {result.get('tokenizer')} tokenizer), {beam}"


def run_scores(run):
    """The run's own test figures, per evaluated checkpoint: 'checkpoint_last: sacreBLEU 20.43, ...'."""
    parts = []
    for ckpt, result in sorted(run["evals"].items()):
        values = [f"{label} {float(result[key]):.2f}" for key, label in metrics_of(run["info"]["task"])
                  if result.get(key) is not None]
        if values:
            parts.append(f"{ckpt}: {', '.join(values)}")
    return "; ".join(parts) or "–"


def run_rows(runs):
    """One row per run: what it is and at what scale it ran."""
    rows = []
    for run in sorted(runs, key=lambda r: (setting_of(r["info"]), r["info"]["system"], int(r["info"]["seed"]))):
        info, log = run["info"], run["log"]
        hw = info.get("hardware", {})
        hardware = f"{hw.get('gpus', 0)} GPU ({', '.join(hw.get('gpu_names', []))})" if hw.get("gpus") else \
            f"CPU only: {hw.get('cpu_cores')} cores, {hw.get('cpu', '')}"
        secs = log["train_seconds"]
        rows.append({
            "benchmark": info["dataset"], "setting": setting_label(setting_of(info)),
            "system": info["system"], "seed": info["seed"], "arch": info.get("arch"),
            "parameters": log["params"] if log["params"] is not None else "–",
            "training sentences/lines": info.get("train_lines") or "–",
            "updates": log["updates"] if log["updates"] is not None else "–",
            "effective batch (tokens)": f"{info.get('effective_batch_tokens')} = {info.get('workers')} x "
                                        f"{info.get('max_tokens')} x {info.get('update_freq')}",
            "training time": "–" if secs is None else f"{secs / 60:.1f} min" + (
                f" (resumed: {log['segments']} segments)" if log["segments"] > 1 else ""),
            "hardware": hardware,
            "best valid loss (base 2)": f"{min(l for _, l in log['valid']):.3f}" if log["valid"] else "–",
            "test scores": run_scores(run),
            "run": run["rel"],  # relative to the runs directory: tables do not depend on where they are rebuilt
        })
    return rows


# ---------------------------------------------------------------- writing

def to_markdown(rows, columns=None):
    if not rows:
        return "(no runs)\n"
    columns = columns or list(rows[0])
    esc = lambda v: str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(esc(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(rows):
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_atomic(path: Path, text: str) -> None:
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write through a temporary file of this process, then rename: readers and concurrent
    collectors see the old file or the new one, never a mixture."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot_valid_loss(runs, out_dir: Path):
    """One PNG per benchmark setting: validation loss (base 2) against updates, a line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    by_setting = defaultdict(list)
    for run in runs:
        if run["log"]["valid"]:
            by_setting[setting_of(run["info"])].append(run)
    for setting, group in sorted(by_setting.items()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for run in sorted(group, key=lambda r: (r["info"]["system"], int(r["info"]["seed"]))):
            updates, losses = zip(*run["log"]["valid"])
            style = "-" if run["info"]["system"] == "softmax" else "--"
            ax.plot(updates, losses, style, marker="o", markersize=3,
                    label=f"{run['info']['system']} seed {run['info']['seed']}")
        ax.set_xlabel("updates")
        ax.set_ylabel("validation loss (base 2)")
        ax.set_title(setting_label(setting), fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        name = "valid_loss." + ".".join(s for s in setting if s) + ".png"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        write_atomic_bytes(out_dir / name, buffer.getvalue())
        written.append(name)
    return written


SUMMARY_COLUMNS = ["setting", "checkpoint", "metric", "baseline", "daGPAM", "difference", "better mean",
                   "seeds (baseline/daGPAM)", "difference per seed", "p (paired bootstrap, per seed)",
                   "p (paired t-test over seeds)", "daGPAM system",
                   "train time (baseline/daGPAM)", "paper baseline", "paper daGPAM", "scale"]


def collect(roots, out_dir: Path, ref_dirs=(), title="Results", note=""):
    runs = read_runs(roots)
    if not runs:
        raise SystemExit(f"collect.py: error: no run-info.json under {', '.join(map(str, roots))}; "
                         f"train with scripts/train.sh first, or pass the directory that holds the runs")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, per_run = summarise(runs, ref_dirs), run_rows(runs)
    plots = plot_valid_loss(runs, out_dir)
    notes = (
        "Generated by `python results/collect.py` from the logs and evaluation files of the runs; "
        "do not edit by hand. Mean ± sample standard deviation over seeds; better mean: the system whose "
        "mean is better, whatever the p-values say. "
        f"p: paired bootstrap resampling (Koehn 2004; sacreBLEU's implementation, {BOOTSTRAP_SAMPLES} "
        "resamples) of the daGPAM system against the baseline of the same seed on sacreBLEU. The test is "
        "two-sided: a small p says the two differ by more than chance explains, in the direction of that "
        "seed's difference (column: difference per seed). p (paired t-test over seeds): two-sided paired "
        "t-test of the per-seed values of daGPAM against the baseline's, pairing equal seeds (few seeds "
        "make it weak: n=3 gives 2 degrees of freedom). Paper figures are the paper's own runs at "
        "full scale, shown only next to full-size runs of the same setting.\n"
    )
    if note:
        notes = note.rstrip() + "\n\n" + notes
    md = [f"# {title}\n", notes]
    for benchmark in sorted({r["benchmark"] for r in per_run}):
        rows = [r for r in summary if r["benchmark"] == benchmark]
        scale = [r for r in per_run if r["benchmark"] == benchmark]
        section = [f"## {benchmark}\n", to_markdown(rows, SUMMARY_COLUMNS), "\nMetric definitions:\n"]
        section += [f"- {m}: {d}\n" for m, d in sorted({(r['metric'], r['metric definition']) for r in rows})]
        papers = sorted({r["paper setting"] for r in rows if r["paper setting"] != "–"})
        section += [f"- paper: {p}\n" for p in papers]
        section += ["\nScale of every run:\n\n", to_markdown(scale, [c for c in scale[0] if c != "run"])]
        section += [f"\n![validation loss]({p})\n" for p in plots if f".{benchmark}." in f".{p}"]
        write_atomic(out_dir / f"{benchmark}.md", f"# {benchmark}\n\n" + notes + "\n" + "".join(section[1:]))
        write_atomic(out_dir / f"{benchmark}.csv", to_csv(rows))
        write_atomic(out_dir / f"{benchmark}.runs.csv", to_csv(scale))
        md += ["\n"] + section
    write_atomic(out_dir / "summary.md", "".join(md))
    write_atomic(out_dir / "summary.csv", to_csv(summary))
    return summary, per_run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="directories holding runs of scripts/train.sh")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--refs", type=Path, action="append", default=[],
                        help="directory with <dataset>.test.raw.<lang> references (for the bootstrap)")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--note", default="", help="text put under the title (e.g. the scale of a demo)")
    parser.add_argument("--note-file", type=Path, help="the same, read from a file")
    args = parser.parse_args(argv)
    for root in args.roots:
        if not root.is_dir():
            print(f"collect.py: error: {root} is not a directory; pass the directory that holds the runs",
                  file=sys.stderr)
            return 2
    note = args.note_file.read_text(encoding="utf-8") if args.note_file else args.note
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=args.out, prefix=".write-check.")
        probe.close()
    except OSError as error:
        print(f"collect.py: error: cannot write the tables into --out {args.out}: {error.strerror}; "
              f"pass a writable directory (nothing was written)", file=sys.stderr)
        return 2
    summary, _ = collect(args.roots, args.out, args.refs, args.title, note)
    print(to_markdown(summary, ["setting", "metric", "daGPAM system", "baseline", "daGPAM", "difference",
                                "difference per seed", "p (paired bootstrap, per seed)",
                                "p (paired t-test over seeds)",
                                "train time (baseline/daGPAM)"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
