"""Deterministic train/valid/test split of running text, by document.

In WikiText layout a document starts at a top-level title line `` = Title = `` (sub-headings are
`` = = ... = = ``); in plain text (``gpam prepare custom``) documents are separated by empty lines.
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


def paragraphs(lines: Sequence[str]) -> List[List[str]]:
    """Group lines into documents separated by one or more empty lines (which are dropped)."""
    docs: List[List[str]] = []
    fresh = True
    for line in lines:
        if not line.strip():
            fresh = True
            continue
        if fresh:
            docs.append([])
            fresh = False
        docs[-1].append(line)
    return docs


def _words(doc: Sequence[str]) -> int:
    return sum(len(line.split()) for line in doc)


def split_documents_of(name: str, docs: Sequence[Sequence[str]], valid_frac: float,
                       test_frac: float, seed: int) -> Tuple[Dict[str, List[str]], Dict[str, dict]]:
    """One source's documents -> ({split: lines}, {split: {"documents": n, "words": n}}).

    Shuffled with a seed derived from ``seed`` and ``name``; test, then valid, take documents
    until each holds its share of the words; each split keeps the original document order.
    """
    if not (0 < valid_frac < 0.5 and 0 < test_frac < 0.5):
        raise PrepError("valid and test fractions must each be between 0 and 0.5")
    if len(docs) < 3:
        raise PrepError(f"{name} has {len(docs)} document(s); at least 3 are needed to split it "
                        "by document")
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
    out: Dict[str, List[str]] = {}
    stats: Dict[str, dict] = {}
    for split in SPLITS:
        picked = [i for i in range(len(docs)) if assigned[i] == split]
        out[split] = [line for i in picked for line in docs[i]]
        stats[split] = {"documents": len(picked), "words": sum(_words(docs[i]) for i in picked)}
    return out, stats


def split_sources(sources: Sequence[Tuple[str, str]], out_prefix: str, valid_frac: float,
                  test_frac: float, seed: int) -> Dict[str, Dict[str, Dict[str, int]]]:
    """WikiText-layout ``sources`` = [(name, path)] -> ``<out_prefix>{train,valid,test}.txt``,
    each source split on its own (so every split mixes all sources).

    Returns {split: {source name: {"documents": n, "words": n}}}.
    """
    out: Dict[str, List[str]] = {s: [] for s in SPLITS}
    stats: Dict[str, Dict[str, Dict[str, int]]] = {s: {} for s in SPLITS}
    for name, path in sources:
        lines, counts = split_documents_of(name, documents(read_lines(path)), valid_frac,
                                           test_frac, seed)
        for split in SPLITS:
            out[split].extend(lines[split])
            stats[split][name] = counts[split]
    for split in SPLITS:
        write_lines(f"{out_prefix}{split}.txt", out[split])
    return stats


def print_stats(stats: Dict[str, Dict[str, Dict[str, int]]]) -> None:
    """One line per split: documents and words over all sources."""
    for split, per_source in stats.items():
        docs = sum(s["documents"] for s in per_source.values())
        words = sum(s["words"] for s in per_source.values())
        print(f"{split}: {docs} documents, {words} words")
