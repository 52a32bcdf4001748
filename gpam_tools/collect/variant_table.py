"""The first alternatives study's results (kept in results/analysis/alternatives) and their table.

That study ran before the one result layout existed; its runs are kept as they were written::

    ROOT/<variant>/seed<k>/result.json   {"variant", "seed", "test_ppl", "scale": {...}, ...}
                          /train.log, eval.log, command.txt

New alternatives runs use the one layout (``gpam study alternatives``) and the side-by-side tables
of ``report``; this module only reads the old layout and writes its table (test perplexity per
variant: mean, min, max, per seed), so that the committed table still regenerates from its logs.
"""

import json
from pathlib import Path
from statistics import mean
from typing import Dict, List

from gpam_tools.atomic import write_text_atomic

# the table's row order (the order the study named its variants in)
VARIANT_ORDER = ["softmax", "dagpam", "dagpam_trainable", "non", "nap", "coda", "diff", "cog"]


def result_files(root: Path) -> List[Path]:
    """The result.json of every run in the old layout under ``root``."""
    return sorted(Path(root).glob("*/seed*/result.json"))


def write_variant_table(root: Path, out: Path) -> str:
    """alternatives.csv / alternatives.md in ``out`` from the runs under ``root``; returns the markdown."""
    results = [json.loads(p.read_text()) for p in result_files(root)]
    by_variant: Dict[str, List[dict]] = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(r)
    order = [v for v in VARIANT_ORDER if v in by_variant] + sorted(set(by_variant) - set(VARIANT_ORDER))
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
    missing = [v for v in VARIANT_ORDER if v not in by_variant]
    if missing:
        md += ["", "Not run (yet): " + ", ".join(missing)]
    md += ["", "Regenerate (in the directory that holds runs/): `gpam collect runs --out .`; "
           "per-run logs and commands are in runs/<variant>/seed<k>/."]
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "alternatives.csv", "\n".join(csv_lines) + "\n")
    write_text_atomic(out / "alternatives.md", "\n".join(md) + "\n")
    return "\n".join(md)
