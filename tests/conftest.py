"""Shared fixtures: tiny seeded fairseq models built through fairseq's own CLI parsing."""

import os
import sys
import warnings
from pathlib import Path
from typing import List, Tuple

import pytest
import torch

import fairseq_gpam  # noqa: F401  (registers the gpam_ models and criteria)
from fairseq import options, tasks
from fairseq.data import Dictionary

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "fairseq_gpam"
CORPORA = REPO / "data-prep" / "corpora"

warnings.filterwarnings("ignore", message=".*pin_memory.*")
# Subprocesses (fairseq-preprocess, the repo's scripts) must use this interpreter's tools even
# when the suite is started as `.venv/bin/python -m pytest` without activating the venv.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_addoption(parser):
    parser.addoption("--device", action="store", default="cpu", choices=("cpu", "cuda"),
                     help="device for kernel, module and model tests that take the `device` fixture "
                          "(cuda is skipped when torch.cuda.is_available() is False)")


@pytest.fixture
def device(request) -> torch.device:
    """The torch.device chosen with `pytest --device {cpu,cuda}`; cuda skips when no GPU is visible."""
    name = request.config.getoption("--device")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("--device cuda: torch.cuda.is_available() is False on this machine")
    return torch.device(name)


@pytest.fixture
def on_device(device):
    """Tensors and modules the test creates without naming a device land on ``device``
    (torch.set_default_device); CPU random generators stay CPU: draw, then move."""
    previous = torch.get_default_device()
    torch.set_default_device(device)
    yield device
    torch.set_default_device(previous)


def make_dictionary(size: int = 40) -> Dictionary:
    """A dictionary with `size` made-up words after fairseq's 4 special symbols."""
    d = Dictionary()
    for i in range(size):
        d.add_symbol(f"w{i}")
    d.finalize(padding_factor=1)
    return d


def write_translation_dicts(data_dir: Path, src: str = "de", tgt: str = "en", size: int = 40) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    d = make_dictionary(size)
    for lang in (src, tgt):
        d.save(str(data_dir / f"dict.{lang}.txt"))


def build_translation_model(data_dir: Path, arch: str, extra: List[str] = ()) -> Tuple[object, object]:
    """(task, model) for ``arch`` on dictionaries in ``data_dir``, via fairseq's argument parser."""
    parser = options.get_training_parser()
    argv = [str(data_dir), "--task", "translation", "-s", "de", "-t", "en", "--arch", arch,
            "--user-dir", str(PLUGIN_DIR), "--dropout", "0", *extra]
    args = options.parse_args_and_arch(parser, argv)
    task = tasks.setup_task(args)
    return task, task.build_model(args)


def build_lm_model(data_dir: Path, arch: str, extra: List[str] = ()) -> Tuple[object, object]:
    """(task, model) for a language-model ``arch`` on a dictionary in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    make_dictionary().save(str(data_dir / "dict.txt"))
    parser = options.get_training_parser()
    argv = [str(data_dir), "--task", "language_modeling", "--arch", arch, "--user-dir", str(PLUGIN_DIR),
            "--dropout", "0", "--tokens-per-sample", "64", *extra]
    args = options.parse_args_and_arch(parser, argv)
    task = tasks.setup_task(args)
    return task, task.build_model(args)


@pytest.fixture
def dict_dir(tmp_path):
    write_translation_dicts(tmp_path / "dicts")
    return tmp_path / "dicts"


def random_batch(vocab: int, bsz: int, src_len: int, tgt_len: int, pad: int = 1, eos: int = 2, seed: int = 0):
    """Left-padded sources and right-padded previous-output tokens, as fairseq's collater makes them."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (bsz, src_len), generator=g)
    src_lengths = torch.randint(2, src_len + 1, (bsz,), generator=g)
    src_lengths[0] = src_len
    for b in range(bsz):
        src[b, : src_len - src_lengths[b]] = pad
        src[b, -1] = eos
    prev = torch.randint(4, vocab, (bsz, tgt_len), generator=g)
    prev[:, 0] = eos
    tgt_lengths = torch.randint(2, tgt_len + 1, (bsz,), generator=g)
    tgt_lengths[0] = tgt_len
    for b in range(bsz):
        prev[b, tgt_lengths[b]:] = pad
    return src, src_lengths, prev
