"""Joint subword segmentation: BPE with subword-nmt (fairseq's recipes) or sentencepiece.

Both learn one model on the concatenation of the source and target training text (joint BPE,
so that a joined fairseq dictionary serves both directions) and apply it to every split.
Output conventions, for ``fairseq-generate --remove-bpe``:
    subword_nmt:    ``word@@ piece`` (remove with --remove-bpe, i.e. '@@ ')
    sentencepiece:  ``▁word piece`` (remove with --remove-bpe sentencepiece)
"""

import io
import multiprocessing
import os
from typing import List, Sequence

from .errors import PrepError
from .textio import read_lines, write_lines

METHODS = ("subword_nmt", "sentencepiece")
_PARALLEL_MIN_LINES = 20000


def learn(method: str, inputs: Sequence[str], model: str, size: int) -> None:
    """Learn a joint model of ``size`` merges (subword_nmt) or pieces (sentencepiece)."""
    if method not in METHODS:
        raise PrepError(f"unknown --bpe '{method}': choose {' or '.join(METHODS)}")
    if size < 1:
        raise PrepError(f"--bpe-size must be positive, got {size}")
    text = [line for path in inputs for line in read_lines(path)]
    if method == "subword_nmt":
        from subword_nmt.learn_bpe import learn_bpe

        # learn_bpe.py -s SIZE < train.de+en > code, as fairseq's recipes call it
        with open(model + ".part", "w", encoding="utf-8") as out:
            learn_bpe(io.StringIO("\n".join(text) + "\n"), out, size, min_frequency=2)
        os.replace(model + ".part", model)
    else:
        import sentencepiece as spm

        prefix = model[: -len(".model")] if model.endswith(".model") else model
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(text), model_prefix=prefix, vocab_size=size,
            model_type="bpe", character_coverage=1.0, hard_vocab_limit=False,
            input_sentence_size=2_000_000, shuffle_input_sentence=True,
            bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2)
        if prefix + ".model" != model:
            os.replace(prefix + ".model", model)


_state = {}


def _init(method: str, model: str) -> None:
    if method == "subword_nmt":
        from subword_nmt.apply_bpe import BPE

        with open(model, encoding="utf-8") as codes:
            _state["bpe"] = BPE(codes)
        _state["fn"] = lambda line: _state["bpe"].process_line(line)
    else:
        import sentencepiece as spm

        _state["sp"] = spm.SentencePieceProcessor(model_file=model)
        _state["fn"] = lambda line: " ".join(_state["sp"].encode(line, out_type=str))


def _apply_line(line: str) -> str:
    return _state["fn"](line)


def apply(method: str, model: str, src: str, dest: str, workers: int = 1) -> int:
    """Segment every line of ``src`` into ``dest``; returns the number of lines."""
    lines = read_lines(src)
    if workers > 1 and len(lines) >= _PARALLEL_MIN_LINES:
        with multiprocessing.get_context("fork").Pool(workers, _init, (method, model)) as pool:
            out: List[str] = pool.map(_apply_line, lines, chunksize=2000)
    else:
        _init(method, model)
        out = [_apply_line(line) for line in lines]
    return write_lines(dest, out)
