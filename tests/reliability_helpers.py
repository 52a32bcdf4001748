"""Helpers shared by the reliability tests: a small binarised sample of the shipped
de-en text, fairseq's console scripts run as subprocesses, checkpoint comparison."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import torch

from conftest import CORPORA, PLUGIN_DIR

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
SAMPLE_PAIRS = 400  # first lines of ci_deen/train: an epoch of about 16 batches of 512 tokens

# A tiny daGPAM model trained deterministically: dropout 0, fixed seed, no validation.
TINY_TRAIN: List[str] = [
    "--user-dir", str(PLUGIN_DIR), "--task", "translation", "--arch", "gpam_transformer_tiny",
    "--criterion", "gpam_label_smoothed_cross_entropy", "--label-smoothing", "0.1",
    "--gpam-lambda-mode", "layer", "--gpam-lambda-neg", "0.2",
    "--optimizer", "sgd", "--lr", "0.5", "--max-tokens", "512", "--required-batch-size-multiple", "1",
    "--dropout", "0", "--seed", "1", "--cpu", "--num-workers", "0", "--disable-validation",
    "--no-progress-bar", "--log-format", "simple", "--log-interval", "1", "--no-epoch-checkpoints",
]


def ci_deen_sample_bin(tmp_path_factory) -> Path:
    """Binarise the first SAMPLE_PAIRS pairs of ci_deen (train) and 40 (valid), once per session."""
    root = tmp_path_factory.getbasetemp() / "ci_deen_sample"
    bin_dir = root / "bin"
    if (bin_dir / "train.de-en.en.idx").exists():
        return bin_dir
    root.mkdir(parents=True, exist_ok=True)
    for split, lines in (("train", SAMPLE_PAIRS), ("valid", 40)):
        for lang in ("de", "en"):
            text = (CORPORA / "ci_deen" / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            (root / f"{split}.{lang}").write_text("\n".join(text[:lines]) + "\n", encoding="utf-8")
    from fairseq import options
    from fairseq_cli import preprocess

    args = options.get_preprocessing_parser().parse_args([
        "--source-lang", "de", "--target-lang", "en", "--trainpref", str(root / "train"),
        "--validpref", str(root / "valid"), "--destdir", str(bin_dir), "--joined-dictionary",
        "--thresholdsrc", "2", "--thresholdtgt", "2", "--workers", "1",
    ])
    preprocess.main(args)
    return bin_dir


def tool(name: str, *args, cwd, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a fairseq console script; output (stdout + stderr) in ``.stdout``."""
    proc = subprocess.run([str(BIN / name), *map(str, args)], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-4000:]}"
    return proc


def model_params(checkpoint: Path) -> Dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]


def max_abs_diff(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
