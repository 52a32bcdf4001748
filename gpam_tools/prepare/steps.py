"""The steps every recipe is built from: tokenise, learn and apply a subword model, binarise.

Each step reads and writes plain files in a ``stage.Preparation``'s directories and prints one
line per file (the log shows what was done and how long it took).
"""

import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

from . import moses, subword
from .errors import PrepError
from .stage import Preparation, log

SPLITS = ("train", "valid", "test")
BPE_MODEL_FILE = {"subword_nmt": "bpe.codes", "sentencepiece": "spm.model"}
# fairseq-preprocess's worker pool costs more than it saves on small files
_BINARIZE_PARALLEL_BYTES = 10_000_000


def default_tokenizer(bpe: str) -> str:
    """sentencepiece segments raw text itself: no Moses tokenisation before it."""
    return "moses" if bpe == "subword_nmt" else "none"


def tokenize(pairs: Sequence[Tuple[str, str]], opts: moses.TokenizeOptions, workers: int) -> None:
    """Tokenise each (input, output) file pair with ``opts``; line counts are preserved."""
    for src, dest in pairs:
        t0 = time.time()
        n = moses.tokenize_file(src, dest, opts, workers=workers)
        print(f"tokenised {os.path.basename(src)} -> {dest}: {n} lines, {time.time() - t0:.1f} s")


def subword_model(prep: Preparation, method: str, size: int, train_files: Sequence[str]) -> str:
    """Learn one (joint) subword model on ``train_files`` into data-bin and text; returns its
    file name (``bpe.codes`` or ``spm.model``)."""
    name = BPE_MODEL_FILE[method]
    model = os.path.join(prep.stage_bin, name)
    log(f"step: learn {'joint ' if len(train_files) > 1 else ''}{method} ({size}) on "
        + " + ".join(os.path.basename(f) for f in train_files))
    t0 = time.time()
    subword.learn(method, train_files, model, size)
    print(f"learned {method} model of size {size} -> {model} ({time.time() - t0:.1f} s)")
    shutil.copy(model, os.path.join(prep.stage_text, name))
    return name


def apply_subword(prep: Preparation, method: str, model_name: str,
                  pairs: Sequence[Tuple[str, str]], workers: int) -> None:
    model = os.path.join(prep.stage_bin, model_name)
    for src, dest in pairs:
        n = subword.apply(method, model, src, dest, workers=workers)
        print(f"segmented {os.path.basename(src)} -> {dest}: {n} lines")


def joint_subword(prep: Preparation, method: str, size: int, from_dir: str, to_dir: str,
                  langs: Sequence[str], workers: int) -> str:
    """Joint model on from_dir/train.{l1,l2}, applied to every split of both languages."""
    name = subword_model(prep, method, size, [os.path.join(from_dir, f"train.{l}") for l in langs])
    pairs = [(os.path.join(from_dir, f"{s}.{l}"), os.path.join(to_dir, f"{s}.{l}"))
             for s in SPLITS for l in langs]
    apply_subword(prep, method, name, pairs, workers)
    return name


def _workers_for(path: str, workers: int) -> int:
    return workers if os.path.getsize(path) >= _BINARIZE_PARALLEL_BYTES else 1


def _preprocess(args: List[str]) -> None:
    """Run fairseq-preprocess (as ``python -m fairseq_cli.preprocess``), its output logged."""
    env = dict(os.environ, TQDM_DISABLE="1")
    proc = subprocess.Popen([sys.executable, "-m", "fairseq_cli.preprocess", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:
        sys.stdout.write(line)
    if proc.wait() != 0:
        raise PrepError(f"fairseq-preprocess failed (exit status {proc.returncode}); its output "
                        "is above and in the log")


def binarize_translation(prep: Preparation, src: str, tgt: str, workers: int) -> None:
    """fairseq-preprocess with one joined dictionary: the data serves both directions."""
    log(f"step: fairseq-preprocess ({src}-{tgt}, joined dictionary)")
    text = prep.stage_text
    _preprocess(["--source-lang", src, "--target-lang", tgt,
                 "--trainpref", f"{text}/train", "--validpref", f"{text}/valid",
                 "--testpref", f"{text}/test", "--destdir", prep.stage_bin, "--joined-dictionary",
                 "--workers", str(_workers_for(f"{text}/train.{src}", workers))])


def binarize_lm(prep: Preparation, workers: int, extra: Sequence[str] = ()) -> None:
    """fairseq-preprocess --only-source on {train,valid,test}.txt; ``extra`` is passed on."""
    log("step: fairseq-preprocess (language modelling, --only-source" +
        "".join(f" {a}" for a in extra) + ")")
    text = prep.stage_text
    _preprocess(["--only-source", "--trainpref", f"{text}/train.txt",
                 "--validpref", f"{text}/valid.txt", "--testpref", f"{text}/test.txt",
                 "--destdir", prep.stage_bin,
                 "--workers", str(_workers_for(f"{text}/train.txt", workers)), *extra])



def raw_references(prep: Preparation, raw_test: Dict[str, str], lowercase: bool) -> None:
    """sacreBLEU references: the untokenised test text {lang: file} -> text/test.raw.<lang>
    (whitespace normalised; lowercased when the recipe lowercases)."""
    for lang, path in raw_test.items():
        opts = moses.TokenizeOptions(lang=lang, method="none", lowercase=lowercase)
        tokenize([(path, os.path.join(prep.stage_text, f"test.raw.{lang}"))], opts, workers=1)
