"""``gpam train``: train the softmax baseline or a daGPAM model on a prepared dataset.

The recipe comes from :mod:`gpam_tools.run.recipes` (the dataset's ``prep-info.json`` says which
model family), the run directory from :mod:`gpam_tools.run.run_spec`; fairseq-train runs as a
subprocess with an argument list (no shell). Every run leaves ``train.log`` (tee'd),
``command.sh`` (the exact command), ``run-info.json`` (scale, hardware, code) and the
checkpoints in its directory; a run directory that already holds ``checkpoint_last.pt`` of the
same architecture resumes from it (fairseq restores data position, optimizer and seeds).
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, TextIO

from gpam_tools.run import recipes
from gpam_tools.atomic import write_text_atomic
from gpam_tools.run.datasets import default_data_root
from gpam_tools.run.fingerprint import code_fingerprint
from gpam_tools.run.run_spec import (REPO, ResolvedRun, RunError, RunSpec, fairseq_env, hold_lock, need_writable_dir,
                             resolve, write_run_info)

USER_DIR = REPO / "fairseq_gpam"


class TrainingFailed(RunError):
    """fairseq-train ended with an error; its log is in the run directory."""


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def fairseq_tool(name: str) -> str:
    """A fairseq console script: the one beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def build_command(run: ResolvedRun, save_dir: Path) -> List[str]:
    """The fairseq-train argument list of a resolved run (the spec's extra arguments come last and win)."""
    spec, data = run.spec, run.data
    model_fields = recipes.system_fields(data.task, run.ln, spec.attention, run.lambda_neg, run.lambda_mode,
                                         run.lambda_max)
    cmd = [fairseq_tool("fairseq-train"), str(data.data_bin), "--user-dir", str(USER_DIR)]
    cmd += recipes.fairseq_args(data.task, run.recipe, model_fields, spec.attention)
    if data.task == recipes.TRANSLATION:
        cmd += ["--source-lang", data.src, "--target-lang", data.tgt]
    log_interval = "100" if spec.preset == "full" else "10"
    if spec.dry_run:  # the full-size model and flags; small batches, a few updates, no checkpoint
        cmd += ["--max-tokens", "1024", "--update-freq", "1", "--max-valid-steps", "2", "--no-save",
                "--num-workers", "0"]
        log_interval = "1"
    max_update = spec.max_update if spec.max_update is not None else (3 if spec.dry_run else None)
    if max_update is not None:
        cmd += ["--max-update", str(max_update)]
    cmd += ["--seed", str(spec.seed), "--save-dir", str(save_dir),
            "--log-format", "json", "--log-interval", log_interval, "--no-progress-bar"]
    if spec.tensorboard:
        cmd += ["--tensorboard-logdir", str(save_dir / "tensorboard")]
    return cmd + list(spec.extra_args)


def run_facts(run: ResolvedRun) -> dict:
    """The strings run-info.json has always held (the results collector reads them)."""
    spec, data = run.spec, run.data
    return {
        "benchmark": data.name, "dataset": data.name, "task": data.task, "src": data.src or "",
        "tgt": data.tgt or "", "preset": spec.preset, "model": run.model, "ln": run.ln,
        "attention": spec.attention, "system": run.system, "lambda_neg": run.lambda_neg,
        "lambda_mode": run.lambda_mode, "lambda_max": run.lambda_max, "seed": str(spec.seed),
        "tag": spec.tag, "dry_run": "1" if spec.dry_run else "0",
        "train_lines": "" if data.train_lines is None else str(data.train_lines), "data_bin": str(data.data_bin),
    }


def resume_point(run_dir: Path) -> Optional[int]:
    """The update count of ``run_dir``'s last checkpoint if it loads and was written by this code
    (its ``.code`` fingerprint is today's), else None: a study runner resumes only then."""
    from gpam_tools.run.checkpoint_facts import CheckpointError, check as check_checkpoint

    run_dir = Path(run_dir)
    ckpt, code = run_dir / "checkpoint_last.pt", run_dir / ".code"
    if not ckpt.is_file() or not code.is_file() or code.read_text().strip() != code_fingerprint():
        return None
    try:
        return check_checkpoint(ckpt).updates
    except CheckpointError:
        return None


def _check_tensorboard() -> None:
    for module in ("torch.utils.tensorboard", "tensorboardX"):
        try:
            __import__(module)
            return
        except ImportError:
            continue
    raise RunError("--tensorboard needs the tensorboard package: pip install tensorboard")


def train(spec: RunSpec, data_root, runs_root, resume: bool = True, stream: Optional[TextIO] = None) -> Path:
    """Train one run; return its directory. Raises RunError before any write on bad input, and
    TrainingFailed if fairseq-train fails. With ``resume=False`` a directory holding a checkpoint is refused."""
    stream = stream or sys.stdout
    run = resolve(spec, data_root)
    save_dir = Path(runs_root).absolute() / run.relative_dir
    if spec.tensorboard:
        _check_tensorboard()
    last = save_dir / "checkpoint_last.pt"
    if last.is_file():
        from gpam_tools.run.checkpoint_facts import CheckpointError, check as check_checkpoint

        if not resume:
            raise RunError(f"{save_dir} already holds checkpoints; resume it, or remove it to start again")
        try:  # the checkpoint must be this model, or fairseq fails deep inside loading
            check_checkpoint(last, arch=run.arch, data=str(run.data.data_bin))
        except CheckpointError as err:
            raise RunError(f"{err}\n{save_dir} holds a checkpoint of another model; pick another --tag "
                           f"or --save-root") from None
    need_writable_dir(save_dir, f"choose a writable --save-root (now {runs_root})")
    lock = hold_lock(save_dir / ".lock", "training")
    try:
        cmd = build_command(run, save_dir)
        fingerprint = code_fingerprint()
        if not last.is_file():
            write_text_atomic(save_dir / ".code", fingerprint + "\n")
        write_text_atomic(save_dir / "command.sh", shlex.join(cmd) + "\n")
        write_run_info(save_dir / "run-info.json", run_facts(run), cmd, fingerprint)
        print(f"gpam train: {run.system} seed {spec.seed} -> {save_dir}", file=sys.stderr, flush=True)
        env = fairseq_env(spec.threads)
        with open(save_dir / "train.log", "a", encoding="utf-8") as log:
            try:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env=env, pass_fds=(lock,), errors="replace")
            except OSError as err:
                raise RunError(f"cannot start {cmd[0]} ({err.strerror}); install fairseq into this "
                               f"environment (make setup)") from None
            finished = False
            for line in proc.stdout:
                finished = finished or "done training in" in line
                log.write(line)
                log.flush()
                stream.write(line)
                stream.flush()
            proc.wait()
            if proc.returncode < 0 and finished:
                # A daemon thread killed at interpreter shutdown can abort the process after fairseq has
                # saved its last checkpoint and reported the end of training: the run is complete.
                note = (f"gpam train: fairseq-train exited with signal {signal_name(-proc.returncode)} after it "
                        f"finished training; its checkpoints are complete\n")
                log.write(note)
                stream.write(note)
        if proc.returncode != 0 and not (proc.returncode < 0 and finished):
            raise TrainingFailed(f"fairseq-train failed (exit {proc.returncode}); log: {save_dir / 'train.log'}")
    finally:
        os.close(lock)
    return save_dir


# ---------------------------------------------------------------- command line

def _seeds(text: str) -> List[int]:
    parts = text.split(",")
    if not all(p.isdigit() for p in parts):
        raise RunError(f"--seeds must be a comma-separated list of integers, not '{text}'")
    return [int(p) for p in parts]


def _int_option(text: Optional[str], option: str) -> Optional[int]:
    if text is None:
        return None
    if not text.isdigit():
        raise RunError(f"{option} must be an integer, not '{text}'")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpam train", usage="gpam train DATASET [options] [-- extra fairseq-train args]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train fairseq's softmax Transformer (baseline) or the same model with daGPAM attention\n"
                    "on a prepared dataset (<data-root>/data-bin/DATASET; its prep-info.json says whether it\n"
                    "is translation or language-modelling data).",
        epilog="Each run goes to\n  <save-root>/<dataset>[.<src>-<tgt>]/<model>-<ln>ln[-<tag>]/<system>/seed<N>/\n"
               "and leaves there train.log, command.sh (the exact fairseq-train command), run-info.json\n"
               "(scale, hardware, code fingerprint) and the checkpoints; it resumes from checkpoint_last.pt.")
    p.add_argument("dataset", metavar="DATASET", nargs="?", help="a dataset prepared by gpam prepare")
    what = p.add_argument_group("what to train")
    what.add_argument("--attention", default="dagpam", metavar="softmax|dagpam", help="softmax (fairseq's own architecture) or dagpam "
                      "(the gpam_ architecture; default)")
    what.add_argument("--preset", default="full", metavar="full|cpu|cpu-deep|demo|tiny",
                      help="full = the published fairseq recipe (GPU scale, default); cpu = scaled down for a "
                      "2-core CPU; cpu-deep = the deep study's 6+6 / 8 layers; demo = make demo's translation "
                      "model; tiny = test-sized (gpam recipes lists them)")
    what.add_argument("--model", metavar="NAME", help="full-size model: iwslt, base, big (translation), lm, lm8, lm15 (language "
                      "models); default: the dataset's prep-info.json full_model, else iwslt (base from "
                      f"{recipes.LARGE_TRANSLATION_LINES:,} training pairs) or lm")
    what.add_argument("--ln", metavar="pre|post", help="pre or post (default post for full/tiny translation, pre for cpu; "
                      "language models are pre-LN only)")
    what.add_argument("--src", metavar="L", help="translation source language (default: the dataset's order)")
    what.add_argument("--tgt", metavar="L", help="translation target language")
    gpam = p.add_argument_group("daGPAM (refused with --attention softmax)")
    gpam.add_argument("--lambda-neg", metavar="X", help="lambda- (default 0.2); lambda+ = 1 + lambda-")
    gpam.add_argument("--lambda-mode", metavar="fixed|layer|head", help="fixed, or trainable per layer / per head (default fixed)")
    gpam.add_argument("--lambda-max", metavar="X", help="bound of a trainable lambda- (default 1.0)")
    runs = p.add_argument_group("schedule and runs")
    runs.add_argument("--seeds", "--seed", default="1", metavar="1,2,3", help="one run per seed, in turn (default 1)")
    runs.add_argument("--max-update", metavar="N", help="override the recipe's number of updates")
    runs.add_argument("--dry-run", action="store_true", help="full-size model, a few updates (default 3) on "
                      "small batches, nothing saved")
    runs.add_argument("--threads", metavar="N", help="torch threads of fairseq-train (OMP/MKL_NUM_THREADS)")
    where = p.add_argument_group("where")
    where.add_argument("--data-root", metavar="DIR", default=str(default_data_root()),
                       help="prepared data (default $DATA_ROOT or <repo>/work)")
    where.add_argument("--save-root", metavar="DIR", default=os.environ.get("SAVE_ROOT") or str(REPO / "work" / "runs"),
                       help="runs (default $SAVE_ROOT or <repo>/work/runs)")
    where.add_argument("--tag", default="", metavar="NAME", help="appended to the run's setting directory name")
    where.add_argument("--tensorboard", action="store_true", help="also log to <run>/tensorboard")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = parser()
    args, unknown = p.parse_known_args(argv)
    try:
        if unknown:
            raise RunError(f"unknown option {unknown[0]} (see --help; fairseq-train options go after --)")
        if not args.dataset:
            raise RunError("no DATASET given (see --help)")
        specs = [RunSpec(dataset=args.dataset, attention=args.attention, seed=seed, preset=args.preset,
                         model=args.model, ln=args.ln, src=args.src, tgt=args.tgt, lambda_neg=args.lambda_neg,
                         lambda_mode=args.lambda_mode, lambda_max=args.lambda_max,
                         max_update=_int_option(args.max_update, "--max-update"), tag=args.tag,
                         dry_run=args.dry_run, tensorboard=args.tensorboard,
                         threads=_int_option(args.threads, "--threads"), extra_args=tuple(extra))
                 for seed in _seeds(args.seeds)]
        for spec in specs:
            resolve(spec, args.data_root)  # every seed checked before the first one trains
        for spec in specs:
            train(spec, args.data_root, args.save_root)
    except TrainingFailed as err:
        print(f"gpam train: error: {err}", file=sys.stderr)
        return 1
    except RunError as err:
        print(f"gpam train: error: {err}", file=sys.stderr)
        return 2
    return 0
