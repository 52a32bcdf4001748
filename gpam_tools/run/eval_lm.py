"""Perplexity of a trained language model with fairseq-eval-lm (part of ``gpam evaluate``).

The figure depends on the context window and the tokens per sample: both are stated in the
result. Writes ``eval-lm.<ckpt>.log`` (fairseq-eval-lm output) and ``eval-lm.<ckpt>.json`` (loss,
perplexity, context window, tokens per sample) beside the checkpoint.
"""

import os
import re
import sys
from typing import Optional, Sequence

from gpam_tools.run import datasets, recipes
from gpam_tools.atomic import write_json_atomic
from gpam_tools.run.evaluate import EvaluationError, USER_DIR, data_dir, find_target, run_tool
from gpam_tools.run.run_spec import fairseq_env, hold_lock, need_writable_dir

LOSS_LINE = re.compile(r"Loss \(base 2\): ([0-9.]+), Perplexity: ([0-9.]+)")
TOKENS_LINE = re.compile(r"Evaluated ([0-9,]+) tokens")


def default_context_window(tokens_per_sample: int) -> int:
    """25/32 of the block: 400 for 512, as in fairseq's WikiText-103 recipe."""
    return tokens_per_sample * 25 // 32


def parse_eval_lm_log(text: str, log_name: str) -> dict:
    loss, tokens = LOSS_LINE.search(text), TOKENS_LINE.search(text)
    if not loss or not tokens:
        raise EvaluationError(f"no loss/perplexity line in {log_name}; see that log")
    return {"loss_base2": float(loss.group(1)), "perplexity": float(loss.group(2)),
            "tokens_scored": int(tokens.group(1).replace(",", ""))}


def evaluate_lm(target, data_root=None, *, checkpoint="best", data=None, subset="test",
                tokens_per_sample: Optional[int] = None, context_window: Optional[int] = None, max_tokens=4096,
                extra_args: Sequence[str] = (), threads=None) -> dict:
    """Score a language model's perplexity on ``subset``; returns the saved result dict."""
    from gpam_tools.run.checkpoint_facts import CheckpointError, check
    from gpam_tools.run.train import fairseq_tool

    if subset not in ("test", "valid"):
        raise EvaluationError(f"--subset must be test or valid, not '{subset}'")
    where = find_target(target, checkpoint)
    try:
        facts = check(where.checkpoint, task=recipes.LANGUAGE_MODELING)
        data_bin = data_dir(facts, where.run_dir, data, data_root)
        dataset = datasets.load(data_bin, task=recipes.LANGUAGE_MODELING)
        check(where.checkpoint, data=str(data_bin))
    except (CheckpointError, datasets.DataError) as err:
        raise EvaluationError(str(err)) from None
    tps = tokens_per_sample if tokens_per_sample is not None else facts.tokens_per_sample
    if not isinstance(tps, int) or tps <= 0:
        raise EvaluationError(f"--tokens-per-sample must be a positive number, not '{tps}' (the checkpoint "
                              f"does not state one: pass --tokens-per-sample)")
    window = context_window if context_window is not None else default_context_window(tps)
    if not isinstance(window, int) or not 0 <= window < tps:
        raise EvaluationError(f"--context-window must be a number below --tokens-per-sample ({tps}), not '{window}'")
    name = where.checkpoint.name[:-3] if where.checkpoint.name.endswith(".pt") else where.checkpoint.name
    name = name if subset == "test" else f"{name}.{subset}"

    run_dir = where.run_dir
    need_writable_dir(run_dir, "the scores are written beside the checkpoint: copy the run directory somewhere writable")
    lock = hold_lock(run_dir / ".eval.lock", "evaluation")
    try:
        log = run_dir / f"eval-lm.{name}.log"
        tmp = log.with_name(log.name + ".tmp")
        cmd = [fairseq_tool("fairseq-eval-lm"), str(data_bin), "--user-dir", str(USER_DIR),
               "--path", str(where.checkpoint), "--gen-subset", subset, "--tokens-per-sample", str(tps),
               "--context-window", str(window), "--max-tokens", str(max_tokens),
               "--required-batch-size-multiple", "1", "--num-workers", "0", *extra_args]
        print(f"gpam evaluate: {dataset.name} {subset} perplexity of {where.checkpoint} "
              f"(tokens per sample {tps}, context window {window})", file=sys.stderr, flush=True)
        run_tool(cmd, tmp, tmp, fairseq_env(threads), "fairseq-eval-lm")
        scores = parse_eval_lm_log(tmp.read_text(encoding="utf-8", errors="replace"), str(tmp))
        result = {"checkpoint": name, "dataset": dataset.name, "subset": subset, "arch": facts.arch,
                  "params": facts.params, "updates": facts.updates, **scores,
                  "tokens_per_sample": tps, "context_window": window}
        result = dict(sorted(result.items()))
        write_json_atomic(run_dir / f"eval-lm.{name}.json", result)
        os.replace(tmp, log)
    finally:
        os.close(lock)
    print(f"{result['dataset']} {result['subset']} perplexity {result['perplexity']:.2f} "
          f"(loss {result['loss_base2']:.4f} bits/token over {result['tokens_scored']} tokens; "
          f"tokens per sample {result['tokens_per_sample']}, context window {result['context_window']})")
    return result
