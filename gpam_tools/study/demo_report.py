"""What ``make demo`` prints after its runs: the one-seed table, translations, and the multi-seed verdict.

    gpam demo-report OUT [--data-root DIR] [--comparison results/comparison]

Read from the demo's results directory OUT (its kept runs and references, as ``gpam study demo`` leaves
them) and from the multi-seed comparison's generated ``summary.csv``:

1. each benchmark's scores, softmax beside daGPAM, marked "one seed: no conclusion" (one seed names no
   winner and gets no p-value); for a language model, a unigram model's perplexity on the same test
   tokens beside it (``gpam unigram``: the floor a language model must beat);
2. three test sentences (the first whose reference has 6 to 12 words) with the reference and each
   system's translation;
3. the multi-seed comparison's rows for daGPAM with fixed lambda- = 0.2 and its verdict, read from the
   paired t-test over seeds in that table (p < 0.05: a difference; otherwise none shown).
"""

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional

from gpam_tools.collect.grouping import metrics_of, setting_label, setting_of
from gpam_tools.collect.reading import find_refs, read_runs
from gpam_tools.collect.render import to_markdown
from gpam_tools.run.datasets import default_data_root
from gpam_tools.run.run_spec import REPO

NO_CONCLUSION = "one seed: no conclusion"
EXAMPLE_WORDS = (6, 12)          # reference length of the example sentences, in words
PRIMARY_SYSTEM = "dagpam-fixed0.2"
PRIMARY_METRICS = ("sacreBLEU", "test perplexity")
ALPHA = 0.05


def _score(run, key) -> str:
    result = run["evals"].get("checkpoint_last") or next(iter(run["evals"].values()), {})
    value = result.get(key)
    return "–" if value is None else f"{value:.2f}"


def one_seed_rows(runs, data_root: Path) -> List[Dict[str, str]]:
    """Per setting and metric: softmax and daGPAM side by side, and a unigram model for a language model."""
    from gpam_tools.stats.unigram import unigram_perplexity

    rows = []
    settings = sorted({setting_of(r["info"]) for r in runs})
    for setting in settings:
        mine = [r for r in runs if setting_of(r["info"]) == setting]
        by_system = {r["info"]["system"]: r for r in mine}
        base = by_system.get("softmax")
        task = mine[0]["info"]["task"]
        unigram = "–"
        if task != "translation":
            unigram = f"{unigram_perplexity(Path(data_root) / 'data-bin' / mine[0]['info']['dataset'])['perplexity']:.2f}"
        for key, label in metrics_of(task):
            if label not in PRIMARY_METRICS or all(key not in ev for r in mine for ev in r["evals"].values()):
                continue
            for system, run in sorted(by_system.items()):
                if system == "softmax":
                    continue
                rows.append({"setting": setting_label(setting), "metric": label,
                             "softmax": _score(base, key) if base else "–", "daGPAM": _score(run, key),
                             "daGPAM system": system, "unigram model": unigram, "conclusion": NO_CONCLUSION})
    return rows


def examples(runs, ref_dirs, data_root: Path, count: int = 3) -> str:
    """``count`` test sentences: source, reference, and each translation system's output."""
    mt = [r for r in runs if r["info"]["task"] == "translation"]
    if not mt:
        return ""
    info = mt[0]["info"]
    refs_path = find_refs(mt[0], ref_dirs)
    source_path = Path(data_root) / "text" / info["dataset"] / f"test.raw.{info['src']}"
    if refs_path is None or not source_path.is_file():
        return ""
    refs = refs_path.read_text(encoding="utf-8").splitlines()
    sources = source_path.read_text(encoding="utf-8").splitlines()
    outputs = {}
    for run in sorted(mt, key=lambda r: r["info"]["system"] != "softmax"):
        result = run["evals"].get("checkpoint_last") or next(iter(run["evals"].values()), {})
        hyps = run["dir"] / result.get("hypotheses_file", "")
        if hyps.is_file():
            outputs[run["info"]["system"]] = hyps.read_text(encoding="utf-8").splitlines()
    low, high = EXAMPLE_WORDS
    chosen = [i for i, ref in enumerate(refs) if low <= len(ref.split()) <= high][:count]
    width = max(len(name) for name in ["source", "reference", *outputs])
    blocks = []
    for i in chosen:
        lines = [f"{'source':<{width}}  {sources[i]}", f"{'reference':<{width}}  {refs[i]}"]
        lines += [f"{name:<{width}}  {hyps[i]}" for name, hyps in outputs.items()]
        blocks.append("\n".join(lines))
    return (f"Test sentences {', '.join(str(i + 1) for i in chosen)} of {info['dataset']} "
            f"({info['src']}->{info['tgt']}; the first whose reference has {low} to {high} words):\n\n"
            "```\n" + "\n\n".join(blocks) + "\n```\n")


def _p_value(text: str) -> Optional[float]:
    match = re.match(r"\s*([0-9.]+)", text or "")
    return float(match.group(1)) if match else None


def verdict(row: Dict[str, str]) -> str:
    """What a multi-seed row says, from its paired t-test over seeds."""
    p, seeds = _p_value(row["p (paired t-test over seeds)"]), row["seeds (baseline/compared)"]
    if p is None:
        return f"no test (seeds {seeds})"
    if p >= ALPHA:
        return f"no difference shown (p = {p:.2f}, seeds {seeds})"
    lower = row["metric"] == "test perplexity"
    better = (row["difference"].startswith("-")) == lower
    return f"daGPAM {'better' if better else 'worse'} (p = {p:.3f}, seeds {seeds})"


def multi_seed(comparison: Path) -> str:
    """The comparison's rows for the primary daGPAM system and metrics, each with its verdict."""
    summary = comparison / "summary.csv"
    if not summary.is_file():
        return f"(no multi-seed table: {summary} is missing; `gpam study comparison` writes it)\n"
    with open(summary, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f)
                if r["compared system"] == PRIMARY_SYSTEM and r["metric"] in PRIMARY_METRICS]
    for row in rows:
        row.update(softmax=row["baseline"], daGPAM=row["compared"], verdict=verdict(row))
    columns = ["setting", "metric", "softmax", "daGPAM", "difference", "95% interval (paired, over seeds)",
               "p (paired t-test over seeds)", "verdict"]
    return to_markdown(rows, columns)


def report(out: Path, data_root: Path, comparison: Path = REPO / "results" / "comparison") -> str:
    """The demo's report (markdown) from its results directory ``out``."""
    runs = read_runs([Path(out) / "runs"])
    rel = comparison.relative_to(REPO) if comparison.is_relative_to(REPO) else comparison
    parts = ["## This run: one seed, no conclusion\n\n",
             "One seed of each system cannot say which attention is better: the table names no winner and\n"
             "gives no p-value. The unigram model is the floor a language model must beat.\n\n",
             to_markdown(one_seed_rows(runs, data_root),
                         ["setting", "metric", "softmax", "daGPAM", "daGPAM system", "unigram model", "conclusion"]),
             "\n## What the models translate\n\n", examples(runs, [Path(out) / "refs"], data_root) or "(no translations)\n",
             f"\n## Several seeds: the comparison in {rel}/\n\n",
             f"daGPAM with fixed lambda- = 0.2 against softmax, mean ± standard deviation over seeds, from the\n"
             f"generated {rel}/summary.md; the verdict reads its paired t-test over seeds (p < {ALPHA}: a "
             f"difference).\n\n",
             multi_seed(comparison)]
    return "".join(parts)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="gpam demo-report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="the demo's results directory (default of make demo: results/demo)")
    p.add_argument("--data-root", type=Path, default=default_data_root(),
                   help="where the data was prepared (default $DATA_ROOT, else <repo>/work)")
    p.add_argument("--comparison", type=Path, default=REPO / "results" / "comparison",
                   help="the multi-seed comparison's results directory (default results/comparison)")
    args = p.parse_args(argv)
    if not (args.out / "runs").is_dir():
        print(f"gpam demo-report: error: {args.out}/runs does not exist; run the demo first (make demo)", file=sys.stderr)
        return 2
    print(report(args.out, args.data_root, args.comparison.absolute()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
