"""Stage (b) of ``gpam gpu-check``: tiny translation and LM models trained with fairseq's own trainer
under ``--fp16``, ``--bf16`` and ``--amp``; each run's loss must stay finite and fall.

The data are the first lines of the shipped ci_deen corpus, binarised here with fairseq's
dictionary and indexed-dataset writer (no subprocess). Training runs in this process through
``fairseq_cli.train.main``, exactly as ``fairseq-train`` would run it; the per-update losses are
read from fairseq's JSON progress log. fairseq trains ``--fp16`` and ``--bf16`` on CUDA only
(its FP16 optimizer calls ``torch.cuda``; ``--bf16`` without CUDA means a TPU), so on the CPU
those two runs are reported as not run, with that reason, and only ``--amp`` trains.
"""

import json
import logging
import math
from pathlib import Path
from typing import Dict, List, Sequence

import torch

from gpam_tools import REPO
from gpam_tools.bench.gpu_stage import StageResult, Stopwatch

CORPUS = REPO / "data-prep" / "corpora" / "ci_deen"
PRECISIONS = ("fp16", "bf16", "amp")
CUDA_ONLY = {"fp16": "fairseq's --fp16 optimizer needs CUDA", "bf16": "fairseq's --bf16 without CUDA means a TPU"}
TASKS = {
    "translation": ["--task", "translation", "-s", "de", "-t", "en", "--arch", "gpam_transformer_tiny",
                    "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"],
    "language_modeling": ["--task", "language_modeling", "--arch", "gpam_transformer_lm_tiny",
                          "--tokens-per-sample", "64", "--criterion", "cross_entropy"],
}
COMMON = ["--optimizer", "adam", "--lr", "5e-3", "--max-tokens", "512", "--dropout", "0", "--seed", "1",
          "--num-workers", "0", "--disable-validation", "--no-save", "--log-format", "json", "--log-interval", "1",
          "--distributed-world-size", "1"]  # one process: the losses are read from its log


def write_tiny_data(work: Path, lines: int = 400) -> Dict[str, Path]:
    """Binarised translation (de-en) and language-modelling (en) directories of ``lines`` ci_deen lines."""
    from fairseq.data import Dictionary, indexed_dataset

    text = {(split, lang): (CORPUS / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()[:n]
            for split, n in (("train", lines), ("valid", 40)) for lang in ("de", "en")}
    dictionary = Dictionary()
    for (split, _), sentences in text.items():
        if split == "train":
            for sentence in sentences:
                for word in sentence.split():
                    dictionary.add_symbol(word)
    dictionary.finalize(padding_factor=8)
    dirs = {"translation": work / "translation", "language_modeling": work / "language_modeling"}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for lang in ("de", "en"):
        dictionary.save(str(dirs["translation"] / f"dict.{lang}.txt"))
    dictionary.save(str(dirs["language_modeling"] / "dict.txt"))

    def write(prefix: Path, sentences: Sequence[str]) -> None:
        builder = indexed_dataset.make_builder(f"{prefix}.bin", impl="mmap", vocab_size=len(dictionary))
        for sentence in sentences:
            builder.add_item(dictionary.encode_line(sentence, add_if_not_exist=False).int())
        builder.finalize(f"{prefix}.idx")

    for (split, lang), sentences in text.items():
        write(dirs["translation"] / f"{split}.de-en.{lang}", sentences)
        if lang == "en":
            write(dirs["language_modeling"] / split, sentences)
    return dirs


class _UpdateLosses(logging.Handler):
    """Collects the losses of fairseq's JSON progress lines (tagged ``train_inner``; the logger is
    fairseq.logging.progress_bar's, renamed while it logs)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.losses: List[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "train_inner" and message.startswith("{") and '"num_updates"' in message:
            self.losses.append(float(json.loads(message)["loss"]))


def fairseq_train_args(data: Path, task: str, precision: str, device: torch.device, updates: int) -> List[str]:
    """The fairseq-train arguments of one tiny run (``--cpu`` unless on CUDA)."""
    return [str(data), "--user-dir", str(REPO / "fairseq_gpam"), *TASKS[task], *COMMON,
            "--save-dir", str(data / f"checkpoints-{precision}"),  # fairseq checks it is writable even with --no-save
            "--max-update", str(updates), f"--{precision}"] + (["--cpu"] if device.type != "cuda" else [])


def train_tiny(data: Path, task: str, precision: str, device: torch.device, updates: int) -> List[float]:
    """Per-update training losses (base 2) of a fairseq run with ``--{precision}`` on ``device``."""
    from fairseq import distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train

    argv = fairseq_train_args(data, task, precision, device, updates)
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    logger = logging.getLogger("fairseq.logging.progress_bar")
    handler, level = _UpdateLosses(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        distributed_utils.call_main(cfg, train.main)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.losses


def loss_falls(losses: Sequence[float]) -> bool:
    """Every loss finite, and the mean of the last quarter below the mean of the first quarter."""
    if len(losses) < 2 or not all(math.isfinite(v) for v in losses):
        return False
    k = max(1, len(losses) // 4)
    return sum(losses[-k:]) / k < sum(losses[:k]) / k


def run_training(device: torch.device, work: Path, updates: int = 20,
                 precisions: Sequence[str] = PRECISIONS, tasks: Sequence[str] = tuple(TASKS)) -> StageResult:
    clock = Stopwatch()
    dirs = write_tiny_data(work)
    ok, lines = True, []
    for task in tasks:
        for precision in precisions:
            if device.type != "cuda" and precision in CUDA_ONLY:
                lines.append(f"{task} --{precision}: not run on {device.type} ({CUDA_ONLY[precision]})")
                continue
            try:
                losses = train_tiny(dirs[task], task, precision, device, updates)
            except Exception as error:  # a failure here is the finding: report it, run the rest
                ok = False
                lines.append(f"{task} --{precision}: FAILED ({type(error).__name__}: {str(error)[:300]})")
                continue
            good = loss_falls(losses)
            ok = ok and good
            shown = ", ".join(f"{v:.3f}" for v in (losses[:1] + losses[-1:]))
            lines.append(f"{task} --{precision}: {len(losses)} updates, loss first/last {shown}: "
                         + ("finite and falling" if good else "NOT finite and falling: " + str(losses)))
    return StageResult("fp16 / bf16 / amp training", ok, lines, clock())
