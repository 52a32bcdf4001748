"""Deterministic train/valid/test split of WikiText-layout text, by document.

A document starts at a top-level title line `` = Title = `` (sub-headings are `` = = ... = = ``).
Splitting by line would put sentences of one speech, chapter or article on both sides of the
split and flatter the test perplexity; whole documents never straddle two splits here.

Each source file is split on its own (so every split mixes all sources): its documents are
shuffled with a fixed seed, test takes documents until it holds ``test_frac`` of the source's
words, valid likewise, train the rest; each split keeps the original document order.
"""

import random
import re
from typing import Dict, List, Sequence, Tuple

from .errors import PrepError
from .textio import read_lines, write_lines

_TITLE = re.compile(r"^ = (?!=).* = $")
SPLITS = ("train", "valid", "test")


def documents(lines: Sequence[str]) -> List[List[str]]:
    """Group lines into documents; lines before the first title join the first document."""
    docs: List[List[str]] = []
    for line in lines:
        if _TITLE.match(line) or not docs:
            docs.append([])
        docs[-1].append(line)
    return docs


def _words(doc: Sequence[str]) -> int:
    return sum(len(line.split()) for line in doc)


def split_sources(sources: Sequence[Tuple[str, str]], out_prefix: str, valid_frac: float,
                  test_frac: float, seed: int) -> Dict[str, Dict[str, Dict[str, int]]]:
    """``sources`` = [(name, path)] -> ``<out_prefix>{train,valid,test}.txt``.

    Returns {split: {source name: {"documents": n, "words": n}}}.
    """
    if not (0 < valid_frac < 0.5 and 0 < test_frac < 0.5):
        raise PrepError("valid and test fractions must each be between 0 and 0.5")
    out: Dict[str, List[str]] = {s: [] for s in SPLITS}
    stats: Dict[str, Dict[str, Dict[str, int]]] = {s: {} for s in SPLITS}
    for name, path in sources:
        docs = documents(read_lines(path))
        if len(docs) < 3:
            raise PrepError(f"{path} has {len(docs)} document(s) (' = Title = ' lines); "
                            "at least 3 are needed to split it by document")
        total = sum(_words(d) for d in docs)
        order = list(range(len(docs)))
        random.Random(f"{seed}:{name}").shuffle(order)
        assigned = {}
        quota = {"test": test_frac * total, "valid": valid_frac * total}
        filled = {"test": 0, "valid": 0}
        for i in order:
            for split in ("test", "valid"):
                if filled[split] < quota[split]:
                    assigned[i] = split
                    filled[split] += _words(docs[i])
                    break
            else:
                assigned[i] = "train"
        for split in SPLITS:
            picked = [i for i in range(len(docs)) if assigned[i] == split]
            for i in picked:
                out[split].extend(docs[i])
            stats[split][name] = {"documents": len(picked),
                                  "words": sum(_words(docs[i]) for i in picked)}
    for split in SPLITS:
        write_lines(f"{out_prefix}{split}.txt", out[split])
    return stats
