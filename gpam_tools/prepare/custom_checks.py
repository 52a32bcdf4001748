"""Checks of a custom corpus, all made before anything is written (``gpam prepare custom``).

Each refusal is a PrepError naming the problem and the fix: a dataset name that is taken or
malformed, a language code that is not two or three letters, a missing or empty file, text that
is not UTF-8, parallel files whose line counts differ, pairs with an empty side, a split that
leaves nothing to train on. What passes is returned loaded, with the SHA-256 of every input.
"""

import os
import random
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from gpam_tools.run.datasets import is_prepared

from . import lmsplit
from .catalogue import CATALOGUE
from .errors import PrepError
from .sources import file_digest
from .textio import read_lines

SPLITS = ("train", "valid", "test")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_SHOWN = 5  # line numbers quoted in a message


@dataclass
class Corpus:
    """A checked custom corpus. Translation: ``text[split][lang]`` = lines (aligned across
    languages); language modelling: ``text[split]["txt"]`` = lines. ``split_stats``: LM corpora
    split by document here; ``skipped``: pairs dropped for an empty side (--skip-empty)."""

    text: Dict[str, Dict[str, List[str]]]
    sources: List[dict]
    skipped: Dict[str, int] = field(default_factory=dict)
    split_stats: Optional[dict] = None


def input_sources(files: List[Tuple[str, str]]) -> List[dict]:
    """prep-info ``sources`` entries for the user's files [(option, path)]: their SHA-256."""
    return [{"name": os.path.basename(path), "path": os.path.abspath(path),
             "origin": f"your file ({option})", "sha256": file_digest(path, "sha256"),
             "verified": "nothing: your own file (its SHA-256 is recorded)"}
            for option, path in files]


def check_name(name: str, data_root: str, force: bool) -> None:
    if not _NAME.match(name or ""):
        raise PrepError(f"--name '{name}' is not a usable dataset name: use letters, digits, '.', "
                        "'_' and '-', starting with a letter or digit (e.g. --name europarl.es-en)")
    if name in CATALOGUE or name == "custom":
        raise PrepError(f"--name {name} is the name of a built-in dataset (gpam prepare {name}); "
                        "choose another name for your corpus")
    if is_prepared(data_root, name) and not force:
        bin_dir = os.path.join(data_root, "data-bin", name)
        raise PrepError(f"a dataset named {name} already exists in {bin_dir}: choose another "
                        "--name, or add --force to replace it (the old one stays until the new one "
                        "is complete)")


def check_lang(option: str, code: Optional[str]) -> str:
    if not code:
        raise PrepError(f"{option} is missing: give the language code, e.g. {option} es")
    if not _LANG.match(code):
        raise PrepError(f"{option} '{code}' is not a language code: use two or three lowercase "
                        "letters (ISO 639-1 or 639-3), e.g. es, en, deu")
    return code


def _text_file(path: str, option: str, hint: str = "") -> List[str]:
    """The lines of an input file, refusing a missing, empty or non-text one."""
    if not os.path.exists(path):
        raise PrepError(f"{option}: {path} does not exist{hint}: check the path")
    if not os.path.isfile(path):
        raise PrepError(f"{option}: {path} is not a file{hint}")
    lines = read_lines(path)
    if not any(line.strip() for line in lines):
        raise PrepError(f"{option}: {path} is empty: pass the file that holds the text")
    return lines


def _numbers(lines: List[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_SHOWN])
    return shown + (f" and {len(lines) - _SHOWN} more" if len(lines) > _SHOWN else "")


def _parallel(option: str, prefix: str, src: str, tgt: str, skip_empty: bool
              ) -> Tuple[Dict[str, List[str]], int, List[str]]:
    """PREFIX.src and PREFIX.tgt, aligned; returns ({lang: lines}, pairs skipped, paths)."""
    paths = {lang: f"{prefix}.{lang}" for lang in (src, tgt)}
    hint = ""
    if os.path.isfile(prefix):
        hint = (f" ({option} takes the common prefix of the two files: for {prefix}.{src} and "
                f"{prefix}.{tgt} pass {prefix})")
    text = {lang: _text_file(path, option, hint) for lang, path in paths.items()}
    n_src, n_tgt = len(text[src]), len(text[tgt])
    if n_src != n_tgt:
        raise PrepError(f"{option}: {paths[src]} has {n_src} lines but {paths[tgt]} has {n_tgt}: "
                        "the two files must be line-aligned (line i of one is the translation of "
                        "line i of the other). Find where they drift (e.g. paste the two files "
                        "side by side), fix or drop those lines in both, and run again")
    empty = [i for i, pair in enumerate(zip(text[src], text[tgt]), 1)
             if not pair[0].strip() or not pair[1].strip()]
    if empty and not skip_empty:
        raise PrepError(f"{option}: {len(empty)} pair(s) of {prefix}.{{{src},{tgt}}} have an "
                        f"empty side (line {_numbers(empty)}): remove those lines from both "
                        "files, or pass --skip-empty to drop them (the number dropped is recorded "
                        "in prep-info.json)")
    if empty:
        drop = set(empty)
        text = {lang: [l for i, l in enumerate(lines, 1) if i not in drop]
                for lang, lines in text.items()}
        if not text[src]:
            raise PrepError(f"{option}: every pair of {prefix}.{{{src},{tgt}}} has an empty side")
    return text, len(empty), list(paths.values())


def parse_split(value: str, translation: bool) -> Tuple[float, float]:
    """--split: "N,N" held-out pairs (translation) or "F,F" shares of the words (LM)."""
    parts = value.split(",")
    try:
        numbers = [int(p) if translation else float(p) for p in parts]
    except ValueError:
        numbers = []
    if translation and (len(numbers) != 2 or min(numbers) < 1):
        raise PrepError(f"--split {value}: give the numbers of valid and test pairs to hold out "
                        "from --train, e.g. --split 1000,1000")
    if not translation and (len(numbers) != 2 or not all(0 < x < 0.5 for x in numbers)):
        raise PrepError(f"--split {value}: give the shares of the words that go to valid and "
                        "test, each between 0 and 0.5, e.g. --split 0.05,0.05 (whole documents "
                        "move)")
    return numbers[0], numbers[1]


def hold_out(text: Dict[str, List[str]], n_valid: int, n_test: int, seed: int
              ) -> Dict[str, Dict[str, List[str]]]:
    """Random valid and test pairs (fixed seed) out of train; each split keeps corpus order."""
    n = len(next(iter(text.values())))
    if n_valid + n_test >= n:
        raise PrepError(f"--split {n_valid},{n_test} holds out {n_valid + n_test} pairs but "
                        f"--train has {n}: hold out fewer (a tenth or less is usual)")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    part = {i: "valid" for i in order[:n_valid]}
    part.update({i: "test" for i in order[n_valid:n_valid + n_test]})
    return {split: {lang: [l for i, l in enumerate(lines) if part.get(i, "train") == split]
                    for lang, lines in text.items()} for split in SPLITS}


def translation(a) -> Corpus:
    """Check and load ``--train/--valid/--test PREFIX`` (or ``--split``) for a.src-a.tgt."""
    src, tgt = a.src, a.tgt
    files: List[Tuple[str, str]] = []
    skipped: Dict[str, int] = {}
    text: Dict[str, Dict[str, List[str]]] = {}
    for split in SPLITS if a.split is None else ("train",):
        text[split], skipped[split], paths = _parallel(f"--{split}", getattr(a, split), src, tgt,
                                                       a.skip_empty)
        files += [(f"--{split}", path) for path in paths]
    if a.split is not None:
        n_valid, n_test = parse_split(a.split, translation=True)
        text = hold_out(text["train"], int(n_valid), int(n_test), a.seed)
    return Corpus(text, input_sources(files), {k: v for k, v in skipped.items() if v})


def language_modeling(a) -> Corpus:
    """Check and load ``--train/--valid/--test FILE`` (or one ``--train`` split by document)."""
    files = [getattr(a, s) for s in SPLITS] if a.split is None else [a.train]
    text = {split: {"txt": _text_file(path, f"--{split}")} for split, path in zip(SPLITS, files)}
    corpus = Corpus(text, input_sources([(f"--{s}", p) for s, p in zip(SPLITS, files)]))
    if a.split is None:
        return corpus
    valid, test = parse_split(a.split, translation=False)
    layout = "' = Title = ' lines" if a.documents == "wikitext" else "blocks separated by empty lines"
    split_docs = lmsplit.documents if a.documents == "wikitext" else lmsplit.paragraphs
    docs = split_docs(text["train"]["txt"])
    if len(docs) < 3:
        raise PrepError(f"--train {a.train} has {len(docs)} document(s) ({layout}); splitting by "
                        "document needs at least 3: pass --valid and --test files, or choose "
                        "the --documents layout that matches the file")
    name = os.path.basename(a.train)
    lines, stats = lmsplit.split_documents_of(name, docs, valid, test, a.seed)
    if not all(stats[s]["words"] for s in SPLITS):
        raise PrepError(f"--split {a.split} of --train {a.train} ({len(docs)} documents) leaves "
                        f"{', '.join(s for s in SPLITS if not stats[s]['words'])} without text: "
                        "give smaller shares, or a file with more documents")
    corpus.text = {split: {"txt": lines[split]} for split in SPLITS}
    corpus.split_stats = {split: {name: stats[split]} for split in SPLITS}  # as en_lm's
    return corpus
