"""One row per run: what it is, at what scale it ran, and its own test scores."""

from gpam_tools.collect.grouping import metrics_of, setting_label, setting_of


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
