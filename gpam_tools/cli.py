"""``gpam COMMAND [ARGS]`` (or ``python -m gpam_tools COMMAND``): every tool of the pipeline.

Each command is a module with ``main(argv) -> int`` and its own ``--help``; the
table below is the whole list, imported only when its command runs.
"""

import importlib
import sys
from typing import List, Optional

# command -> (module, one line of help); add a line here for a new command
COMMANDS = {
    "prepare": ("gpam_tools.prepare.cli", "prepare a dataset: a benchmark, a shipped corpus, or your own corpus (custom)"),
    "study": ("gpam_tools.study.runner", "train, evaluate, keep and tabulate a study (datasets x systems x seeds), resumable"),
    "collect": ("gpam_tools.collect.command", "tables and plots of a results directory, from its kept runs"),
    "keep-runs": ("gpam_tools.collect.keep", "copy runs' light files (logs, scores, hypotheses) into a results tree"),
    "power": ("gpam_tools.stats.power", "seeds a comparison needs: paired spread, t-interval, power, minimum detectable effect"),
    "update-count": ("gpam_tools.stats.update_count", "the update count a pilot's validation curves ask for (the study plan's rule)"),
    "throughput": ("gpam_tools.stats.throughput", "seconds per update (wall and CPU) of a short training command"),
    "train": ("gpam_tools.run.train", "train the softmax baseline or daGPAM on a prepared dataset"),
    "evaluate": ("gpam_tools.run.evaluate", "score a trained checkpoint: BLEU (translation) or perplexity (LM)"),
    "recipes": ("gpam_tools.run.recipe_configs", "the recipe table; write or check the hydra configs generated from it"),
    "analyze": ("gpam_tools.analysis.per_layer", "per-layer rank collapse, cosine, grad W_q and attention maps of checkpoints"),
    "depth-study": ("gpam_tools.analysis.depth_study", "pure-attention stacks vs depth; the softmax Jacobian check (Lemma 3)"),
    "count-params": ("gpam_tools.analysis.count_params", "parameters of every gpam_ architecture against its fairseq baseline"),
    "average-checkpoints": ("gpam_tools.checkpoint_tools.average", "average the parameters of a run's last checkpoints"),
    "warm-start": ("gpam_tools.checkpoint_tools.warm_start", "initialise a daGPAM model from a softmax baseline checkpoint"),
    "bench": ("gpam_tools.bench.command", "speed and memory of daGPAM against fairseq's softmax, side by side (CPU)"),
    "gpu-check": ("gpam_tools.bench.gpu_check", "verify a CUDA machine: device tests, fp16/bf16/amp training, decoding, timings"),
    "score": ("gpam_tools.run.scoring", "score a fairseq-generate output: tokenized BLEU, sacreBLEU, compound split"),
    "unigram": ("gpam_tools.stats.unigram", "a unigram model's test perplexity: the floor a language model must beat"),
    "demo-report": ("gpam_tools.study.demo_report", "the demo's report: one-seed scores, example translations, multi-seed verdict"),
}


def usage() -> str:
    width = max((len(name) for name in COMMANDS), default=0)
    lines = ["usage: gpam COMMAND [ARGS]   (python -m gpam_tools COMMAND [ARGS])", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "gpam COMMAND --help shows a command's own arguments."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"gpam: unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)
