"""The side-by-side rows: per setting, checkpoint and metric, the softmax baseline against each
compared system (daGPAM or a peer) over seeds: mean ± sample standard deviation, the mean paired
difference with its 95% interval and the minimum detectable effect, per-seed tests, scale."""

from collections import defaultdict

from gpam_tools.collect.grouping import LOWER_IS_BETTER, metrics_of, setting_label, setting_of
from gpam_tools.collect.paper import PAPER_SOURCE, paper_row
from gpam_tools.collect.reading import find_refs
from gpam_tools.collect.stats import fmt, mean_std, paired_bootstrap, paired_over_seeds, paired_seeds


def summarise(runs, ref_dirs):
    """Rows of the side-by-side table: one per setting, checkpoint, metric and compared system."""
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
                rows += _metric_rows(setting, system, baseline, treated, ckpt, ref_dirs)
    return rows


def _metric_rows(setting, system, baseline, treated, ckpt, ref_dirs):
    rows = []
    task = (baseline or treated)[0]["info"]["task"]
    for key, label in metrics_of(task):
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
        seeds = paired_seeds(base_vals, sys_vals)
        diffs = [sys_vals[s] - base_vals[s] for s in seeds]
        per_seed = ", ".join(f"seed {s}: {d:+.2f}" for s, d in zip(seeds, diffs))
        seed_test, interval, mde = paired_over_seeds(diffs)
        if len(seeds) < 2:  # one seed names no winner and prints no p-value
            p_values = []
        paper = paper_row(setting, key)
        sample = (baseline or treated)[0]
        rows.append({
            "benchmark": setting[0], "setting": setting_label(setting), "checkpoint": ckpt,
            "metric": label, "compared system": system,
            "seeds (baseline/compared)": f"{len(base_vals)}/{len(sys_vals)}",
            "baseline": fmt(bm, bs), "compared": fmt(sm, ss),
            "difference": "–" if bm is None or sm is None else f"{sm - bm:+.2f}",
            "better mean": "–" if bm is None or sm is None else "one seed: no conclusion" if len(seeds) < 2 else (
                "tie" if round(sm, 2) == round(bm, 2) else
                system if (sm < bm if key in LOWER_IS_BETTER else sm > bm) else "baseline"),
            "difference per seed": per_seed or "–",
            "95% interval (paired, over seeds)": interval,
            "MDE (80% power, these seeds)": mde,
            "p (paired bootstrap, per seed)": ", ".join(
                f"seed {s}: {p:.3f}" if p is not None else f"seed {s}: n/a" for s, p in p_values) or "–",
            "p (paired t-test over seeds)": seed_test,
            "train time (baseline/compared)": train_minutes(baseline, treated),
            "paper baseline": paper["softmax"] if paper else "–",
            "paper daGPAM": paper["dagpam"] if paper else "–",
            "paper setting": f"{paper['setting']} [{PAPER_SOURCE}]" if paper else "–",
            "metric definition": metric_definition(key, sample, ckpt),
            "scale": scale_of(baseline, treated),
        })
    return rows


def train_minutes(baseline, treated):
    """Mean training wall time per run, baseline / compared system, in minutes."""
    means = [mean_std([r["log"]["train_seconds"] for r in runs])[0] for runs in (baseline, treated)]
    return " / ".join("–" if m is None else f"{m / 60:.1f} min" for m in means)


def bootstrap_for(baseline, treated, seed, ckpt, ref_dirs):
    """The paired bootstrap p of one seed's two hypothesis files, or None without them or the references."""
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
    """What a metric is, with the evaluation's own settings (beam, context window, signature)."""
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
