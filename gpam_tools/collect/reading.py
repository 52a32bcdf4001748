"""Every run kept under a results root, read into one record per run.

The one result layout (written by ``gpam train`` / ``gpam evaluate`` and kept by ``gpam study``)::

    ROOT/<any relative path>/run-info.json              what the run is (dataset, task, system, seed, ...)
                            /train.log                  fairseq-train's log (json format)
                            /eval-<kind>.<checkpoint>.json   one evaluation's scores
                            /hyps.*                     translation hypotheses (for the bootstrap)

A record is ``{"dir", "rel", "info", "log", "evals"}``: ``rel`` is the run's path relative to its
root (so tables do not depend on where they are rebuilt), ``log`` what ``logs.parse_train_log``
reads, ``evals`` the evaluation results by checkpoint name. Dry runs are left out.
"""

import json
from pathlib import Path

from gpam_tools.collect.logs import parse_train_log


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
