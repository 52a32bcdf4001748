"""gpam study: train, evaluate, keep and tabulate a study (datasets x systems x seeds x settings).

    gpam study                                  the studies there are
    gpam study NAME|SPEC.py [PART ...] [options] [study options]

NAME is a specification in gpam_tools/study/specs/ (its format: gpam_tools/study/__init__.py);
SPEC.py one elsewhere (Python code, executed: run only specifications you trust, like any script). Runs go side by side (--jobs, one torch thread each, --threads), seed by
seed; each finished run keeps its light files (logs, settings, scores, hypotheses; never
checkpoints) in OUT/runs as it finishes, and the tables (gpam collect) are rebuilt at the end.
Resumable: a run whose scores are kept is skipped; one cut off mid-training resumes from its
last checkpoint in WORK only under the same code fingerprint, else starts again (see --list).
"""

import argparse
import importlib
import importlib.util
import inspect
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from gpam_tools.run import datasets
from gpam_tools.study import schedule
from gpam_tools.collect.keep import replace_directory
from gpam_tools.run.datasets import default_data_root
from gpam_tools.run.run_spec import REPO, RunError, hold_lock, need_writable_dir
from gpam_tools.study import Study

SPECS = Path(__file__).resolve().parent / "specs"


class StudyError(Exception):
    """Bad input for a study; the message names the problem and the fix."""


def available() -> List[str]:
    return sorted(p.stem.replace("_", "-") for p in SPECS.glob("*.py") if p.stem != "__init__")


def load_spec(name: str):
    """The specification module of ``name`` (a study in gpam_tools/study/specs/, or a .py file)."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise StudyError(f"study specification {path} does not exist; pass a .py file or one of: "
                             f"{', '.join(available())}")
        loader = importlib.util.spec_from_file_location(f"gpam_study_{path.stem}", path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        if name not in available():
            raise StudyError(f"unknown study '{name}': choose one of {', '.join(available())}, "
                             f"or pass a specification file (.py)")
        module = importlib.import_module(f"gpam_tools.study.specs.{name.replace('-', '_')}")
    if not callable(getattr(module, "study", None)):
        raise StudyError(f"{name} defines no study(...) function (see gpam_tools/study/__init__.py)")
    return module


def study_parameters(module) -> dict:
    """The keyword parameters of the spec's study(): name -> default (its type is the option's)."""
    return {name: p.default for name, p in inspect.signature(module.study).parameters.items()
            if p.default is not inspect.Parameter.empty}


def parser(module=None, name="NAME") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"gpam study {name}" if module else "gpam study",
                                usage=f"gpam study {name} [PART ...] [options]",
                                description=(module.__doc__ if module else __doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("parts", nargs="*", metavar="PART", help="parts of the study to run (default: the study's)")
    p.add_argument("--seeds", help="comma-separated seeds (default: the study's)")
    p.add_argument("--jobs", help="runs at a time (default: the study's)")
    p.add_argument("--threads", default="1", help="torch threads per run (default 1)")
    p.add_argument("--data-root", default=str(default_data_root()),
                   help="prepared data (default $DATA_ROOT or <repo>/work); missing shipped corpora are prepared")
    p.add_argument("--work", help="checkpoints; a cut-off run resumes from here (default: the study's)")
    p.add_argument("--out", help="kept logs and tables (default: the study's)")
    p.add_argument("--list", action="store_true", help="print the runs in order, each done, resume (with its "
                   "last checkpoint's update; only under unchanged code) or pending, then stop")
    p.add_argument("--collect-only", action="store_true", help="only rebuild the tables from OUT/runs")
    if module is not None:
        own = p.add_argument_group(f"options of this study (gpam_tools/study/specs/{name.replace('-', '_')}.py)")
        for key, default in study_parameters(module).items():
            flag = "--" + key.replace("_", "-")
            if isinstance(default, bool):
                own.add_argument(flag, dest=f"study_{key}", action="store_true", help=f"(default {default})")
            else:
                own.add_argument(flag, dest=f"study_{key}", default=None, metavar=key.upper(),
                                 help=f"(default {default})")
    return p


def positive(text: str, option: str) -> int:
    if not re.fullmatch(r"[1-9][0-9]*", text or ""):
        raise StudyError(f"{option} takes positive integers, not '{text}'")
    return int(text)


def build_study(module, args) -> Study:
    values = {}
    for key, default in study_parameters(module).items():
        given = getattr(args, f"study_{key}")
        if given is None or isinstance(default, bool):
            values[key] = given if isinstance(default, bool) else default
        elif isinstance(default, int):
            values[key] = positive(given, "--" + key.replace("_", "-"))
        elif isinstance(default, float):
            try:
                values[key] = float(given)
            except ValueError:
                raise StudyError(f"--{key.replace('_', '-')} takes a number, not '{given}'") from None
        else:
            values[key] = given
    try:
        return module.study(**values)
    except ValueError as err:
        raise StudyError(str(err)) from None


def select_parts(study: Study, names: List[str]):
    known = {p.name: p for p in study.parts}
    for name in names:
        if name not in known:
            raise StudyError(f"unknown part '{name}' of study {study.name}: choose {', '.join(known)}")
    if not names and study.default_parts is not None:
        names = list(study.default_parts)
        if not names:
            raise StudyError(f"name at least one part of study {study.name}: {', '.join(known)} (see --help)")
    return [known[n] for n in names] if names else list(study.parts)


def seeds_of(text: Optional[str], study: Study) -> List[int]:
    if text is None:
        return list(study.seeds)
    if not re.fullmatch(r"[0-9]+(,[0-9]+)*", text):
        raise StudyError(f"--seeds must be a comma-separated list of integers, not '{text}'")
    return [int(s) for s in text.split(",")]


def in_repo(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else REPO / path


def shipped_to_prepare(parts, data_root: Path) -> List[str]:
    """The missing datasets that are shipped corpora (prepared offline, in minutes); any other missing
    dataset is refused here, before anything is written."""
    from gpam_tools.prepare.catalogue import CATALOGUE, how_to_prepare

    missing = [d for d in dict.fromkeys(d for part in parts for d in part.datasets)
               if not datasets.is_prepared(data_root, d)]
    for dataset in missing:
        if dataset not in CATALOGUE or CATALOGUE[dataset].kind != "shipped":
            raise StudyError(f"dataset {dataset} is not prepared under {data_root}/data-bin; prepare it first "
                             f"with: {how_to_prepare(dataset)} --data-root {data_root}; or pass the --data-root "
                             f"that holds it")
    return missing


def prepare(datasets: List[str], data_root: Path) -> None:
    import subprocess

    for dataset in datasets:
        schedule.say(f"preparing {dataset}")
        proc = subprocess.run([sys.executable, "-m", "gpam_tools", "prepare", dataset, "--data-root", str(data_root)])
        if proc.returncode != 0:
            raise StudyError(f"preparing {dataset} failed (see its messages above); fix that and run the study again")


def write_tables(study: Study, out: Path, data_root: Path, wall_seconds: Optional[float], out_rel: str,
                 seeds) -> str:
    """References, the note and the tables of ``out`` (from out/runs); returns the printed text.

    ``wall_seconds`` None (only collecting): a study's generated note is the one its run wrote."""
    from gpam_tools.collect.render import to_markdown
    from gpam_tools.collect.report import PRINTED_COLUMNS, collect

    schedule.copy_references(out / "runs", data_root, out / "refs")
    printed = ""
    note = ""
    if study.note is not None and wall_seconds is None:
        if not (out / "NOTE.md").is_file():
            raise StudyError(f"{out}/NOTE.md is missing (the study writes it with its wall time): run the study")
        note = (out / "NOTE.md").read_text(encoding="utf-8")
    elif study.note is not None:
        note_path = f"{out_rel}/NOTE.md"
        regenerate = (f"gpam collect {out_rel}/runs --refs {out_rel}/refs --out {out_rel} "
                      f"--title {shlex.quote(study.title)} --note-file {note_path}")
        note = study.note({"wall_seconds": wall_seconds, "cores": os.cpu_count(), "out_rel": out_rel,
                           "seeds": list(seeds), "regenerate": regenerate})
        (out / "NOTE.md").write_text(note, encoding="utf-8")
        printed = note + "\n"
    elif study.note_file:
        note = in_repo(study.note_file).read_text(encoding="utf-8")
    summary, _ = collect([out / "runs"], out, [out / "refs"], study.title, note)
    if study.report is not None:  # the study's own account of its tables (the demo's), printed instead
        if wall_seconds is None and (out / "report.md").is_file():  # --collect-only keeps the run's report
            return printed + (out / "report.md").read_text(encoding="utf-8")
        text = study.report(out, data_root)
        (out / "report.md").write_text(text, encoding="utf-8")
        return printed + text
    return printed + to_markdown(summary, PRINTED_COLUMNS)


def run_study(study: Study, parts, seeds, args) -> int:
    data_root = Path(args.data_root).absolute()
    out = Path(args.out).absolute() if args.out else in_repo(study.out or f"results/{study.name}")
    work = Path(args.work).absolute() if args.work else in_repo(study.work or f"work/{study.name}")
    threads = positive(args.threads, "--threads")
    jobs = positive(args.jobs, "--jobs") if args.jobs else study.jobs
    out_rel = os.path.relpath(out, REPO)
    if args.list:
        runs = schedule.plan(study, parts, seeds, data_root, threads)
        print("\n".join(schedule.list_lines(runs, out, work)))
        return 0
    if args.collect_only:
        if not (out / "runs").is_dir():
            raise StudyError(f"{out}/runs holds no runs yet: run the study first")
        print(write_tables(study, out, data_root, None, out_rel, seeds))
        return 0
    # checked before hours of training; one runner per work directory
    to_prepare = shipped_to_prepare(parts, data_root)
    need_writable_dir(work, "choose a writable --work")
    need_writable_dir(out.parent if study.fresh else out, "choose a writable --out")
    locks = [hold_lock(work / ".lock", "gpam study")]
    if study.fresh:
        locks.append(hold_lock(out.parent / f".{out.name}.lock", "gpam study"))
    start = time.time()
    prepare(to_prepare, data_root)
    runs = schedule.plan(study, parts, seeds, data_root, threads)
    target = out
    if study.fresh:  # every run from scratch, the results replaced in one step at the end
        shutil.rmtree(work / "runs", ignore_errors=True)
        target = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    failures = schedule.run_all(runs, data_root, work, target, target / "runs", jobs, study.keep_checkpoints)
    if study.fresh and failures:  # the previous results stay as they were
        shutil.rmtree(target, ignore_errors=True)
    elif (target / "runs").is_dir():
        printed = write_tables(study, target, data_root, time.time() - start, out_rel, seeds)
        if study.fresh:
            replace_directory(out, target)
        print(printed)
    for fd in locks:
        os.close(fd)
    if failures and study.fresh:
        raise StudyError(f"some runs failed (see the FAILED lines above); {out} is left as it was")
    if failures:
        raise StudyError("some runs failed (see the FAILED lines above); finished runs are kept, "
                         "run the study again to retry the rest")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        if argv and argv[0] in ("-h", "--help"):
            parser().print_help()
            return 0
        if argv:
            print("gpam study: error: name the study first: gpam study NAME [PART ...] [options]", file=sys.stderr)
        print("studies (gpam study NAME --help):", file=sys.stderr if argv else sys.stdout)
        for name in available():
            doc = (importlib.import_module(f"gpam_tools.study.specs.{name.replace('-', '_')}").__doc__ or "").strip()
            print(f"  {name:<14} {doc.splitlines()[0] if doc else ''}", file=sys.stderr if argv else sys.stdout)
        return 0 if not argv else 2
    try:
        module = load_spec(argv[0])
        args = parser(module, argv[0]).parse_args(argv[1:])
        study = build_study(module, args)
        seeds = seeds_of(args.seeds, study)
        parts = select_parts(study, args.parts) if not args.collect_only else list(study.parts)
        return run_study(study, parts, seeds, args)
    except (StudyError, RunError) as err:
        print(f"gpam study: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gpam study: stopped; finished runs are kept, and the same command resumes a cut-off run "
              "(under unchanged code) or starts it again", file=sys.stderr)
        return 130
