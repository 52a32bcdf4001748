"""Per-seed test scores of committed runs, paired by seed against a baseline system.

Reads two layouts, written by the comparison and by the alternatives study:

* ``ROOT/<benchmark>/<setting>/<system>/seed<N>/eval-translation.<checkpoint>.json`` (with the
  detokenised hypotheses ``hyps.<checkpoint>.test.detok.<tgt>`` beside it) or
  ``eval-lm.<checkpoint>.json``;
* ``ROOT/<variant>/seed<N>/result.json`` (``test_ppl``).

Translation scores: sacreBLEU and tokenised BLEU as the evaluation recorded them and, where the
hypotheses and the raw reference ``<refs>/<dataset>.test.raw.<tgt>`` are at hand, recomputed with
sacreBLEU: BLEU without the brevity penalty (exp of the mean log n-gram precision, the same smoothing),
chrF and the length ratio |hyp| / |ref|. Only JSON is read (``json.loads``), nothing is executed.
"""

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import sacrebleu

LOWER_IS_BETTER = {"perplexity"}
METRIC_LABELS = {
    "sacrebleu": "sacreBLEU",
    "bleu_nobp": "BLEU without brevity penalty",
    "chrf": "chrF",
    "length_ratio": "length ratio",
    "bleu_tokenized": "tokenized BLEU",
    "perplexity": "test perplexity",
}
_SEED_DIR = re.compile(r"^seed(\d+)$")


class ScoreError(ValueError):
    """A run directory whose files cannot be read as scores (the message names the file and the fix)."""


@dataclass
class RunScores:
    setting: str                  # the path between the root and the system, e.g. deen_docs.de-en/cpu-preln-u1000
    system: str
    seed: int
    metrics: Dict[str, float] = field(default_factory=dict)
    path: Optional[Path] = None


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ScoreError(f"{path}: not a readable JSON file ({err}); re-run its evaluation") from None
    if not isinstance(value, dict):
        raise ScoreError(f"{path}: expected a JSON object; re-run its evaluation")
    return value


def _number(record: dict, key: str, path: Path) -> float:
    try:
        value = float(record[key])
    except (KeyError, TypeError, ValueError):
        raise ScoreError(f"{path}: '{key}' is missing or not a number; re-run its evaluation") from None
    if not math.isfinite(value):
        raise ScoreError(f"{path}: '{key}' is {value}; re-run its evaluation")
    return value


class ReferenceScorer:
    """sacreBLEU metrics against one reference set, its n-grams extracted once for all the runs scored."""

    def __init__(self, references: List[str]):
        self.references = references
        self.bleu = sacrebleu.metrics.BLEU(references=[references])
        self._chrf = None

    def scores(self, hypotheses: List[str], chrf: bool = True) -> Dict[str, float]:
        """sacreBLEU (13a, mixed case, exp smoothing), BLEU without its brevity penalty, length ratio, chrF."""
        bleu = self.bleu.corpus_score(hypotheses, None)
        smoothed = [p / 100 for p in bleu.precisions]
        no_bp = 100 * math.exp(sum(math.log(p) for p in smoothed) / len(smoothed)) if min(smoothed) > 0 else 0.0
        out = {"sacrebleu_recomputed": bleu.score, "bleu_nobp": no_bp, "brevity_penalty": bleu.bp,
               "length_ratio": bleu.sys_len / bleu.ref_len}
        if chrf:
            if self._chrf is None:
                self._chrf = sacrebleu.metrics.CHRF(references=[self.references])
            out["chrf"] = self._chrf.corpus_score(hypotheses, None).score
        return out


def translation_scores(hypotheses: List[str], references: List[str]) -> Dict[str, float]:
    """Every translation metric of one system output (see ReferenceScorer.scores)."""
    return ReferenceScorer(references).scores(hypotheses)


def _translation_run(run: Path, checkpoint: str, refs_dirs: List[Path], cache: dict,
                     chrf: bool) -> Optional[Dict[str, float]]:
    path = run / f"eval-translation.{checkpoint}.json"
    if not path.is_file():
        return None
    record = _read_json(path)
    metrics = {"sacrebleu": _number(record, "sacrebleu", path)}
    if "bleu_tokenized" in record:
        metrics["bleu_tokenized"] = _number(record, "bleu_tokenized", path)
    hyps_name = record.get("hypotheses_file")
    ref_name = f"{record.get('dataset')}.test.raw.{record.get('tgt')}"
    ref_path = next((d / ref_name for d in refs_dirs if (d / ref_name).is_file()), None)
    if not isinstance(hyps_name, str) or "/" in hyps_name or ref_path is None or not (run / hyps_name).is_file():
        return metrics
    if ref_path not in cache:
        cache[ref_path] = ReferenceScorer(ref_path.read_text(encoding="utf-8").splitlines())
    scorer = cache[ref_path]
    hyps = (run / hyps_name).read_text(encoding="utf-8").splitlines()
    if len(hyps) != len(scorer.references):
        raise ScoreError(f"{run / hyps_name}: {len(hyps)} hypotheses for {len(scorer.references)} references in "
                         f"{ref_path}; point --refs at the reference this run was scored against")
    extra = scorer.scores(hyps, chrf)
    if abs(round(extra["sacrebleu_recomputed"], 2) - metrics["sacrebleu"]) > 0.011:
        raise ScoreError(f"{run}: sacreBLEU recomputed from {hyps_name} and {ref_path} is "
                         f"{extra['sacrebleu_recomputed']:.2f}, the evaluation says {metrics['sacrebleu']}; "
                         "the reference is not the one the run was scored against (check --refs)")
    metrics.update({k: extra[k] for k in ("bleu_nobp", "chrf", "length_ratio") if k in extra})
    return metrics


def _lm_run(run: Path, checkpoint: str) -> Optional[Dict[str, float]]:
    path = run / f"eval-lm.{checkpoint}.json"
    if path.is_file():
        return {"perplexity": _number(_read_json(path), "perplexity", path)}
    path = run / "result.json"
    if path.is_file():
        return {"perplexity": _number(_read_json(path), "test_ppl", path)}
    return None


def read_runs(roots: Iterable[Path], checkpoint: str = "checkpoint_last",
              refs_dirs: Iterable[Path] = (), chrf: bool = True) -> List[RunScores]:
    """Every evaluated run ``.../<system>/seed<N>/`` under the roots, with its test scores (chrF: the slow one)."""
    runs, cache = [], {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise ScoreError(f"{root}: no such directory; give the folder that holds the runs "
                             "(e.g. results/comparison/runs)")
        dirs = list(refs_dirs) or [root / "refs", root.parent / "refs"]
        for seed_dir in sorted(p for p in root.rglob("seed*") if p.is_dir() and _SEED_DIR.match(p.name)):
            metrics = _translation_run(seed_dir, checkpoint, dirs, cache, chrf) or _lm_run(seed_dir, checkpoint)
            if metrics is None:
                continue
            rel = seed_dir.relative_to(root).parts
            setting = "/".join(rel[:-2]) or root.name
            seed = int(_SEED_DIR.match(seed_dir.name).group(1))
            runs.append(RunScores(setting, rel[-2], seed, metrics, seed_dir))
    return runs


def paired_differences(runs: List[RunScores], baseline: str
                       ) -> Dict[Tuple[str, str, str], List[Tuple[int, float]]]:
    """(setting, system, metric) -> [(seed, system - baseline)] over the seeds both have, in seed order."""
    by_key = defaultdict(dict)
    for run in runs:
        by_key[(run.setting, run.system)][run.seed] = run.metrics
    out = {}
    for (setting, system), seeds in sorted(by_key.items()):
        base = by_key.get((setting, baseline))
        if system == baseline or base is None:
            continue
        for metric in METRIC_LABELS:
            pairs = [(seed, seeds[seed][metric] - base[seed][metric]) for seed in sorted(seeds)
                     if seed in base and metric in seeds[seed] and metric in base[seed]]
            if pairs:
                out[(setting, system, metric)] = pairs
    return out


def per_seed_values(runs: List[RunScores], metric: str) -> Dict[Tuple[str, str], List[Tuple[int, float]]]:
    """(setting, system) -> [(seed, value)] of one metric, for the spread of each system on its own."""
    out = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.setting, r.system, r.seed)):
        if metric in run.metrics:
            out[(run.setting, run.system)].append((run.seed, run.metrics[metric]))
    return dict(out)
