"""The runs of a study: planned in order, each trained, evaluated and kept, side by side.

A planned run is one (part, seed, dataset, system) of a :class:`gpam_tools.study.Study`, made
into a :class:`gpam_tools.run.run_spec.RunSpec`; its path (the run layer's) is the same under the work
tree (checkpoints) and the results tree (light files). A run is

* done     when the results tree holds its scores (``eval-*.json``): it is skipped;
* resume   when the work tree holds a checkpoint that loads and was written by today's code
           (``gpam_tools.run.train.resume_point``: the code fingerprint): training continues from it,
           and fairseq restores data position, optimizer and per-update seeds;
* pending  otherwise: any earlier attempt is removed and the run starts from scratch.
"""

import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from gpam_tools.run import datasets
from gpam_tools.collect.keep import keep_run
from gpam_tools.run.run_spec import RunError, RunSpec, resolve
from gpam_tools.study import Part, Study


@dataclass(frozen=True)
class PlannedRun:
    part: Part
    spec: RunSpec
    rel: Optional[str]          # the run's path; None while its dataset is not prepared

    def evaluate_options(self, task: str) -> Dict[str, Any]:
        """The part's evaluation options that apply to ``task`` (a study may mix translation and LM data)."""
        from gpam_tools.run.evaluate import LM_OPTIONS, MT_OPTIONS

        applies = MT_OPTIONS if task == "translation" else LM_OPTIONS
        return {"checkpoint": "last", **{k: v for k, v in self.part.evaluate.items() if k in applies + ("checkpoint",)}}


def plan(study: Study, parts: Sequence[Part], seeds: Sequence[int], data_root: Path,
         threads: Optional[int]) -> List[PlannedRun]:
    """Every run of ``parts``, seed by seed (a cut-off study holds whole seeds); RunError on a bad one."""
    runs = []
    for seed in seeds:
        for part in parts:
            if part.seeds == "first" and seed != seeds[0]:
                continue
            fields = dict(part.run)
            fields["extra_args"] = tuple(fields.get("extra_args", ()))
            for dataset in part.datasets:
                for system in part.systems:
                    spec = RunSpec(dataset=dataset, seed=seed, threads=threads, **fields, **system.fields())
                    prepared = datasets.is_prepared(data_root, dataset)
                    rel = resolve(spec, data_root).relative_dir.as_posix() if prepared else None
                    runs.append(PlannedRun(part, spec, rel))
    return runs


def describe(run: PlannedRun) -> str:
    """How a run is named before its dataset is prepared (its path needs the dataset's prep-info.json)."""
    spec = run.spec
    system = spec.attention + "".join(f" {k}={getattr(spec, k)}" for k in ("lambda_neg", "lambda_mode")
                                      if getattr(spec, k) is not None)
    setting = "".join(f" {k}={v}" for k, v in sorted(run.part.run.items()) if k != "extra_args")
    return f"{spec.dataset} (not prepared yet) {system}{setting} seed{spec.seed}"


def state_of(run: PlannedRun, out: Path, work: Path):
    """('done' | 'resume' | 'pending', update to resume from or None)."""
    from gpam_tools.run.train import resume_point

    if run.rel is None:
        return "pending", None
    if any((out / "runs" / run.rel).glob("eval-*.json")):
        return "done", None
    at = resume_point(work / "runs" / run.rel)
    return ("resume", at) if at is not None else ("pending", None)


def list_lines(runs: Sequence[PlannedRun], out: Path, work: Path) -> List[str]:
    lines = []
    for run in runs:
        state, at = state_of(run, out, work)
        name = run.rel or describe(run)
        lines.append(f"{state:<7} {name}" + (f" (from update {at})" if at is not None else ""))
    return lines


def say(message: str) -> None:
    print(f"gpam study: [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_one(run: PlannedRun, data_root: Path, work: Path, kept_runs: Path, keep_checkpoints: bool = False) -> None:
    """Train (or resume), evaluate, keep the light files in ``kept_runs``, drop the checkpoints (unless told)."""
    from gpam_tools.run.evaluate import evaluate
    from gpam_tools.run.train import resume_point, train

    run_dir = work / "runs" / run.rel
    log = work / "logs" / (run.rel.replace("/", "_") + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    at = resume_point(run_dir)
    if at is not None:
        say(f"resume {run.rel} from update {at}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)  # an attempt with no usable checkpoint, or of other code
        log.write_text("")
        say(f"start {run.rel}")
    with open(log, "a", encoding="utf-8") as stream:
        try:
            train(run.spec, data_root, work / "runs", stream=stream)
        except RunError as err:
            raise RunError(f"FAILED training {run.rel} ({err}; log: {log})") from None
    try:
        task = resolve(run.spec, data_root).data.task
        evaluate(run_dir, data_root, task=task, threads=run.spec.threads, **run.evaluate_options(task))
    except RunError as err:
        raise RunError(f"FAILED evaluating {run.rel} ({err}; log: {run_dir})") from None
    keep_run(run_dir, kept_runs / run.rel)
    for checkpoint in ([] if keep_checkpoints else run_dir.glob("checkpoint*.pt")):
        checkpoint.unlink()
    say(f"done  {run.rel} -> {kept_runs / run.rel}")


def run_all(runs: Sequence[PlannedRun], data_root: Path, work: Path, out: Path, kept_runs: Path,
            jobs: int, keep_checkpoints: bool = False) -> List[str]:
    """Run every run not done, ``jobs`` at a time, in order; returns the failures' messages."""
    todo = []
    for run in runs:
        if state_of(run, out, work)[0] == "done":
            say(f"already done: {run.rel}")
        else:
            todo.append(run)
    failures = []

    def one(run):
        try:
            run_one(run, data_root, work, kept_runs, keep_checkpoints)
        except Exception as err:  # one failed run must not stop the others: it is reported at the end
            say(str(err))
            failures.append(str(err))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))
    return failures


def copy_references(kept_runs: Path, data_root: Path, refs: Path) -> None:
    """The raw test references of every translation direction with kept runs, as <dataset>.test.raw.<tgt>."""
    from gpam_tools.collect.reading import read_runs

    for run in read_runs([kept_runs]):
        info = run["info"]
        if info.get("task") != "translation":
            continue
        try:
            source = datasets.load(datasets.data_bin_of(data_root, info["dataset"]), src=info["src"],
                                   tgt=info["tgt"]).raw_test_reference
        except datasets.DataError:
            continue  # the data is elsewhere: references already kept stay as they are
        target = refs / f"{info['dataset']}.test.raw.{info['tgt']}"
        if source.is_file():
            refs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)

