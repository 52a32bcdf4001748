"""``gpam evaluate``: score a trained checkpoint on its test set, beside the checkpoint.

Translation (:func:`evaluate_translation`): fairseq-generate, then :mod:`gpam_tools.run.scoring`
(tokenized BLEU as multi-bleu.perl computes it, detokenised sacreBLEU with its signature,
compound-split BLEU for a WMT-recipe model into German); optionally the newest N checkpoints
averaged first. Writes ``generate.<ckpt>.test.txt``, ``hyps.<ckpt>.test.detok.<tgt>``,
``eval-translation.<ckpt>.json`` and ``generate.<ckpt>.command.sh``.

Language modelling (:func:`gpam_tools.run.eval_lm.evaluate_lm`): fairseq-eval-lm with a stated context
window and tokens per sample; writes ``eval-lm.<ckpt>.log`` and ``eval-lm.<ckpt>.json``.

:func:`evaluate` picks the one the checkpoint's task needs. The checkpoint's facts are read once
in Python (:mod:`gpam_tools.run.checkpoint_facts`); tools run as argument lists, never through a shell.
"""

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from gpam_tools.run import datasets, recipes
from gpam_tools.atomic import write_text_atomic
from gpam_tools.run.run_spec import REPO, RunError, fairseq_env, hold_lock, need_writable_dir

USER_DIR = REPO / "fairseq_gpam"
# compound splitting is the convention of the WMT En-De recipe (Vaswani et al. 2017)
COMPOUND_SPLIT_ARCHS = {recipes.RECIPES[(recipes.TRANSLATION, m)].arch for m in ("base", "big")}


class EvaluationError(RunError):
    """Bad input or a failed tool; the message names the problem and the fix."""


@dataclass(frozen=True)
class Target:
    """The checkpoint to score and the run directory the results go to."""

    checkpoint: Path
    run_dir: Path


def find_target(target, checkpoint: str = "best", average: int = 0) -> Target:
    target = Path(target)
    if not target.exists():
        raise EvaluationError(f"{target} does not exist; pass a run directory written by gpam train "
                              f"(scripts/train.sh) or a checkpoint file")
    if target.is_dir():
        run_dir = target.absolute()
        ckpt = run_dir / f"checkpoint_{checkpoint}.pt" if checkpoint in ("best", "last") else Path(checkpoint)
        return Target(ckpt, run_dir)
    if average:
        raise EvaluationError("--average needs a run directory, not a checkpoint file")
    return Target(target.absolute(), target.absolute().parent)


def data_dir(facts, run_dir: Path, data: Optional[str], data_root) -> Path:
    """The data-bin directory to score on: --data, else <data_root>/data-bin/<the run's dataset>,
    else the directory the checkpoint was trained on (its cfg.task.data, used only as a path)."""
    if data:
        return Path(str(data).rstrip("/") or "/")
    trained = Path(facts.data.rstrip("/")) if facts.data else None
    if data_root is not None:
        name = _run_dataset(run_dir) or (trained.name if trained else "")
        if name:
            return datasets.data_bin_of(data_root, name)
    if trained is None:
        raise EvaluationError(f"{facts.path} does not say which data it was trained on; pass --data DIR")
    return trained


def _run_dataset(run_dir: Path) -> str:
    import json

    try:
        info = json.loads((run_dir / "run-info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    name = info.get("dataset") if isinstance(info, dict) else None
    return name if isinstance(name, str) and "/" not in name and name not in ("", ".", "..") else ""


def run_tool(cmd: Sequence[str], out: Path, log: Path, env: dict, what: str) -> None:
    """Run ``cmd`` with stdout to ``out`` and stderr to ``log`` (``out`` = ``log``: both); on failure show
    the end of the log and raise."""
    try:
        with open(out, "w", encoding="utf-8") as fout:
            if out == log:
                proc = subprocess.run(list(cmd), stdout=fout, stderr=subprocess.STDOUT, env=env)
            else:
                with open(log, "w", encoding="utf-8") as flog:
                    proc = subprocess.run(list(cmd), stdout=fout, stderr=flog, env=env)
    except OSError as err:
        raise EvaluationError(f"cannot run {cmd[0]} ({err.strerror}); install fairseq into this "
                              f"environment (make setup)") from None
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
        print("\n".join(tail), file=sys.stderr)
        raise EvaluationError(f"{what} failed (log: {log})")


def average_checkpoints(run_dir: Path, last: int) -> Path:
    """checkpoint_avg<N>.pt: the parameter mean of the newest ``last`` checkpoints of ``run_dir``
    (``gpam average-checkpoints``, which refuses checkpoints of different models)."""
    from gpam_tools.checkpoint_tools.average import main as average_main

    out = run_dir / f"checkpoint_avg{last}.pt"
    if average_main(["--last", str(last), "--out", str(out), str(run_dir)]) != 0:
        raise EvaluationError(f"averaging the last {last} checkpoints of {run_dir} failed (see above)")
    return out


def evaluate_translation(target, data_root=None, *, checkpoint="best", average=0, data=None, src=None, tgt=None,
                         beam=5, lenpen=1.0, batch_size=64, max_len_a=0, max_len_b=200, compound_split="auto",
                         extra_args: Sequence[str] = (), threads=None) -> dict:
    """Translate the test set with a checkpoint and score it; returns the saved result dict."""
    from gpam_tools.run import scoring
    from gpam_tools.run.checkpoint_facts import CheckpointError, check

    if compound_split not in ("yes", "no", "auto"):
        raise EvaluationError("--compound-split must be yes, no or auto")
    if not isinstance(average, int) or average < 0:
        raise EvaluationError(f"--average must be a number of checkpoints, not '{average}'")
    where = find_target(target, checkpoint, average)
    try:
        facts = check(where.checkpoint, task=recipes.TRANSLATION)
        data_bin = data_dir(facts, where.run_dir, data, data_root)
        src, tgt = src or facts.src or None, tgt or facts.tgt or None
        dataset = datasets.load(data_bin, task=recipes.TRANSLATION, src=src, tgt=tgt)
        check(where.checkpoint, data=str(data_bin), src=dataset.src, tgt=dataset.tgt)
    except (CheckpointError, datasets.DataError) as err:
        raise EvaluationError(str(err)) from None
    src, tgt = dataset.src, dataset.tgt
    raw_ref = dataset.raw_test_reference
    if not raw_ref.is_file() or raw_ref.stat().st_size == 0:
        raise EvaluationError(f"raw test references {raw_ref} are missing (needed for sacreBLEU); "
                              f"{datasets.prepare_hint(dataset.name)} with --force")
    ref_lines = len(raw_ref.read_text(encoding="utf-8").splitlines())
    if dataset.test_lines is not None and dataset.test_lines != ref_lines:
        raise EvaluationError(f"{raw_ref} has {ref_lines} lines but prep-info.json counts {dataset.test_lines} "
                              f"test lines; {datasets.prepare_hint(dataset.name)} with --force")
    if compound_split == "auto":
        compound_split = "yes" if tgt == "de" and facts.arch.replace("gpam_", "", 1) in COMPOUND_SPLIT_ARCHS else "no"
    remove_bpe = {"sentencepiece": ["--remove-bpe", "sentencepiece"], "subword_nmt": ["--remove-bpe"]}.get(dataset.bpe, [])

    run_dir = where.run_dir
    need_writable_dir(run_dir, "the scores are written beside the checkpoint: copy the run directory somewhere writable")
    lock = hold_lock(run_dir / ".eval.lock", "evaluation")
    try:
        env = fairseq_env(threads)
        ckpt = average_checkpoints(run_dir, average) if average else where.checkpoint
        name = ckpt.name[:-3] if ckpt.name.endswith(".pt") else ckpt.name
        out = run_dir / f"generate.{name}.test.txt"
        tmp = out.with_name(out.name + ".tmp")
        from gpam_tools.run.train import fairseq_tool

        cmd = [fairseq_tool("fairseq-generate"), str(data_bin), "--user-dir", str(USER_DIR),
               "--task", "translation", "--source-lang", src, "--target-lang", tgt, "--gen-subset", "test",
               "--path", str(ckpt), "--beam", str(beam), "--lenpen", str(lenpen), "--max-len-a", str(max_len_a),
               "--max-len-b", str(max_len_b), *remove_bpe, "--batch-size", str(batch_size),
               # fairseq's default 8 drops the last partial batch
               "--required-batch-size-multiple", "1", *extra_args]
        print(f"gpam evaluate: translating {ref_lines} sentences of {dataset.name} ({src}->{tgt}) with {ckpt}",
              file=sys.stderr, flush=True)
        try:
            run_tool(cmd, tmp, out.with_name(out.name + ".log"), env, "fairseq-generate")
            result = scoring.score_to_files(
                tmp, raw_ref, run_dir / f"eval-translation.{name}.json", run_dir / f"hyps.{name}.test.detok.{tgt}",
                dataset.tokenizer, tgt, compound_split == "yes",
                facts={"checkpoint": name, "dataset": dataset.name, "src": src, "tgt": tgt, "beam": str(beam),
                       "lenpen": str(lenpen), "averaged": str(average), "arch": facts.arch, "bpe": dataset.bpe,
                       "tokenizer": dataset.tokenizer, "params": facts.params, "updates": facts.updates})
        except BaseException as err:  # no half-made output left behind
            tmp.unlink(missing_ok=True)
            if isinstance(err, scoring.ScoreError):
                raise EvaluationError(str(err)) from None
            raise
        os.replace(tmp, out)
        write_text_atomic(run_dir / f"generate.{name}.command.sh", shlex.join(cmd) + "\n")
    finally:
        os.close(lock)
    print(scoring.summary(result))
    return result


def checkpoint_task(target, checkpoint: str = "best", average: int = 0) -> str:
    """The task the checkpoint to evaluate was trained for (read from its config)."""
    where = find_target(target, checkpoint, average)
    from gpam_tools.run.checkpoint_facts import CheckpointError, check

    try:
        return check(where.checkpoint).task
    except CheckpointError as err:
        raise EvaluationError(str(err)) from None


def evaluate(target, data_root=None, *, task: Optional[str] = None, **options) -> dict:
    """Score a run directory's (or a checkpoint's) model with the evaluation its task needs.
    ``options`` are :func:`evaluate_translation`'s or :func:`gpam_tools.run.eval_lm.evaluate_lm`'s."""
    from gpam_tools.run.eval_lm import evaluate_lm

    if task is None:
        task = checkpoint_task(target, options.get("checkpoint", "best"), options.get("average", 0))
    if task == recipes.TRANSLATION:
        return evaluate_translation(target, data_root, **options)
    if task == recipes.LANGUAGE_MODELING:
        return evaluate_lm(target, data_root, **options)
    raise EvaluationError(f"{target} holds a {task} model; gpam evaluate scores translation and "
                          f"language_modeling models")


# ---------------------------------------------------------------- command line

MT_OPTIONS = ("average", "src", "tgt", "beam", "lenpen", "batch_size", "max_len_a", "max_len_b", "compound_split")
LM_OPTIONS = ("subset", "tokens_per_sample", "context_window", "max_tokens")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpam evaluate", usage="gpam evaluate RUN_DIR|CHECKPOINT [options] [-- extra fairseq args]",
        description="Score a trained model on its test set; the results are written beside the checkpoint.")
    p.add_argument("target", metavar="RUN_DIR|CHECKPOINT", nargs="?")
    p.add_argument("--task", choices=recipes.FAMILIES, help="refuse a checkpoint of another task (default: "
                   "evaluate whatever task the checkpoint was trained for)")
    p.add_argument("--checkpoint", default="best", help="checkpoint of RUN_DIR: best, last or FILE (default best)")
    p.add_argument("--data", help="prepared data-bin directory (default: what the checkpoint was trained on)")
    p.add_argument("--data-root", help="look the run's dataset up under DIR/data-bin/ instead")
    p.add_argument("--threads", type=int, help="torch threads of the fairseq tool")
    mt = p.add_argument_group("translation")
    mt.add_argument("--average", type=int, help="average the newest N epoch/update checkpoints of RUN_DIR first")
    mt.add_argument("--src", help="direction (default: the checkpoint's)")
    mt.add_argument("--tgt")
    mt.add_argument("--beam", type=int, help="beam size (default 5)")
    mt.add_argument("--lenpen", type=float, help="length penalty (default 1.0; WMT recipes use 0.6 with beam 4)")
    mt.add_argument("--batch-size", type=int, help="sentences per batch (default 64)")
    mt.add_argument("--max-len-a", type=float, help="output length limit a*src_len+b (default fairseq's 0 ...")
    mt.add_argument("--max-len-b", type=int, help="... and 200)")
    mt.add_argument("--compound-split", choices=("yes", "no", "auto"),
                    help="also report compound-split BLEU (default auto: a WMT-recipe model translating into German)")
    lm = p.add_argument_group("language modelling")
    lm.add_argument("--subset", choices=("test", "valid"), help="split to score (default test)")
    lm.add_argument("--tokens-per-sample", type=int, help="length of each scored block (default: the "
                    "checkpoint's training value)")
    lm.add_argument("--context-window", type=int, help="tokens of left context carried into each block "
                    "(default 25/32 of tokens-per-sample: 400 for 512 as in fairseq's WikiText-103 recipe)")
    lm.add_argument("--max-tokens", type=int, help="tokens per batch (default 4096)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args, unknown = parser().parse_known_args(argv)
    try:
        if unknown:
            raise EvaluationError(f"unknown option {unknown[0]} (see --help; fairseq options go after --)")
        if not args.target:
            raise EvaluationError("no RUN_DIR or CHECKPOINT given (see --help)")
        options = {k: v for k, v in vars(args).items() if k in MT_OPTIONS + LM_OPTIONS and v is not None}
        task = args.task or checkpoint_task(args.target, args.checkpoint, options.get("average", 0))
        wrong = LM_OPTIONS if task == recipes.TRANSLATION else MT_OPTIONS
        for key in wrong:
            if key in options:
                raise EvaluationError(f"--{key.replace('_', '-')} does not apply to a {task} model; drop it")
        evaluate(args.target, args.data_root, task=task, checkpoint=args.checkpoint, data=args.data,
                 extra_args=extra, threads=args.threads, **options)
    except RunError as err:
        print(f"gpam evaluate: error: {err}", file=sys.stderr)
        return 2
    return 0
