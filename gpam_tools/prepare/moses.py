"""Moses-style tokenisation, lowercasing and corpus cleaning, with sacremoses (PyPI).

These re-implement the steps of the Moses perl scripts that fairseq's recipes call
(tokenizer.perl, lowercase.perl, clean-corpus-n.perl, normalize-punctuation.perl), so no git
clone of mosesdecoder is needed.
"""

import multiprocessing
from dataclasses import dataclass
from typing import Tuple

from .errors import PrepError
from .textio import read_lines, write_lines

_PARALLEL_MIN_LINES = 20000  # below this, worker start-up costs more than it saves


@dataclass(frozen=True)
class TokenizeOptions:
    """lang: Moses language code; method: 'moses' or 'none' (whitespace only, for sentencepiece);
    escape: Moses' XML escaping (&apos; ...), as tokenizer.perl does by default;
    aggressive_dash: split hyphens as ' @-@ ' (tokenizer.perl -a; WikiText's convention);
    norm_punct: normalize-punctuation.perl first (fairseq's WMT recipe); lowercase: lowercase.perl."""

    lang: str
    method: str = "moses"
    escape: bool = True
    aggressive_dash: bool = False
    norm_punct: bool = False
    lowercase: bool = False


_worker_state = {}


def _init_worker(opts: TokenizeOptions) -> None:
    from sacremoses import MosesPunctNormalizer, MosesTokenizer

    _worker_state["opts"] = opts
    _worker_state["tok"] = MosesTokenizer(lang=opts.lang) if opts.method == "moses" else None
    _worker_state["norm"] = (MosesPunctNormalizer(lang=opts.lang, pre_replace_unicode_punct=True,
                                                  post_remove_control_chars=True)
                             if opts.norm_punct else None)


def _process_line(line: str) -> str:
    opts, tok, norm = _worker_state["opts"], _worker_state["tok"], _worker_state["norm"]
    line = " ".join(line.split())
    if norm is not None:
        line = norm.normalize(line)
    if tok is not None:
        line = tok.tokenize(line, aggressive_dash_splits=opts.aggressive_dash, return_str=True,
                            escape=opts.escape)
    return line.lower() if opts.lowercase else line


def tokenize_file(src: str, dest: str, opts: TokenizeOptions, workers: int = 1) -> int:
    """Tokenise ``src`` line by line into ``dest`` (line count preserved); returns lines."""
    lines = read_lines(src)
    if workers > 1 and len(lines) >= _PARALLEL_MIN_LINES:
        with multiprocessing.get_context("fork").Pool(workers, _init_worker, (opts,)) as pool:
            result = pool.map(_process_line, lines, chunksize=2000)
    else:
        _init_worker(opts)
        result = [_process_line(l) for l in lines]
    write_lines(dest, result)
    return len(result)


def clean_parallel(prefix_in: str, prefix_out: str, src: str, tgt: str, ratio: float,
                   min_len: int, max_len: int) -> Tuple[int, int]:
    """clean-corpus-n: keep pairs whose sides have min_len..max_len words and whose length
    ratio (either way) is at most ``ratio``. Returns (kept, read)."""
    src_lines, tgt_lines = read_lines(f"{prefix_in}.{src}"), read_lines(f"{prefix_in}.{tgt}")
    if len(src_lines) != len(tgt_lines):
        raise PrepError(f"{prefix_in}.{src} has {len(src_lines)} lines but {prefix_in}.{tgt} has "
                        f"{len(tgt_lines)}: the corpus is not parallel")
    keep_s, keep_t = [], []
    for s, t in zip(src_lines, tgt_lines):
        s, t = " ".join(s.split()), " ".join(t.split())
        ns, nt = len(s.split()), len(t.split())
        if not (min_len <= ns <= max_len and min_len <= nt <= max_len):
            continue
        if ns / nt > ratio or nt / ns > ratio:
            continue
        keep_s.append(s)
        keep_t.append(t)
    write_lines(f"{prefix_out}.{src}", keep_s)
    write_lines(f"{prefix_out}.{tgt}", keep_t)
    return len(keep_s), len(src_lines)


def split_every(src: str, keep_dest: str, nth_dest: str, n: int) -> Tuple[int, int]:
    """Lines n, 2n, 3n, ... (1-based) go to ``nth_dest``, the others to ``keep_dest``."""
    lines = read_lines(src)
    nth = [l for i, l in enumerate(lines, 1) if i % n == 0]
    keep = [l for i, l in enumerate(lines, 1) if i % n != 0]
    write_lines(keep_dest, keep)
    write_lines(nth_dest, nth)
    return len(keep), len(nth)

