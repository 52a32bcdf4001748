"""Reading the data contract: what a prepared dataset is, from its own ``prep-info.json``.

``$DATA_ROOT/data-bin/<dataset>/`` holds fairseq-preprocess output, ``prep-info.json`` and an
empty ``PREPARED`` written last; ``$DATA_ROOT/text/<dataset>/test.raw.<lang>`` holds the
detokenised test references. The task (= model family), the languages, the subword scheme and
the line counts all come from ``prep-info.json`` (its schema belongs to data preparation), never
from a list of dataset names: any prepared dataset works. Nothing here writes.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from gpam_tools import REPO
from gpam_tools.run.recipes import FAMILIES, TRANSLATION, full_models


class DataError(Exception):
    """The data directory breaks the contract; the message says how to fix it."""


def prepare_hint(dataset: str) -> str:
    return (f"run `gpam prepare {dataset}` (a benchmark or a shipped corpus; `gpam prepare custom --help` "
            f"for your own)")


@dataclass(frozen=True)
class Dataset:
    """A prepared dataset checked for one run. ``src``/``tgt`` are None for language modelling."""

    name: str
    data_bin: Path
    task: str                  # "translation" | "language_modeling": the model family
    langs: List[str]
    src: Optional[str]
    tgt: Optional[str]
    bpe: str                   # "sentencepiece" | "subword_nmt" | "none"
    tokenizer: str             # "moses" | "none": what detokenising the output needs
    train_lines: Optional[int]
    test_lines: Optional[int]
    full_model: Optional[str] = None   # prep-info's default full-size recipe, if it names one of the family's

    @property
    def raw_test_reference(self) -> Path:
        """The detokenised test references of the target language (sacreBLEU's input)."""
        return self.data_bin.parent.parent / "text" / self.data_bin.name / f"test.raw.{self.tgt}"


def default_data_root() -> Path:
    """Where datasets are prepared when no --data-root is given: $DATA_ROOT, else <repo>/work."""
    return Path(os.environ.get("DATA_ROOT") or REPO / "work")


PREPARED = "PREPARED"  # the data contract's marker, written last by gpam prepare


def data_bin_of(data_root, dataset: str) -> Path:
    return Path(data_root) / "data-bin" / dataset


def is_prepared(data_root, dataset: str) -> bool:
    """The preparation of ``dataset`` finished: its data-bin holds the ``PREPARED`` marker (written last)."""
    return (data_bin_of(data_root, dataset) / PREPARED).is_file()


def prepared_names(data_root) -> List[str]:
    root = Path(data_root) / "data-bin"
    return sorted(p.name for p in root.iterdir() if is_prepared(data_root, p.name)) if root.is_dir() else []


def read_prep_info(data_bin: Path) -> dict:
    """The ``prep-info.json`` of a prepared dataset, with ``task`` and ``langs`` checked."""
    data_bin = Path(data_bin)
    dataset = data_bin.name
    if not data_bin.is_dir():
        others = prepared_names(data_bin.parent.parent)
        listed = f"; prepared there: {', '.join(others)}" if others else ""
        raise DataError(f"data directory {data_bin} does not exist; {prepare_hint(dataset)}, "
                        f"or pass --data-root DIR if it was prepared elsewhere{listed}")
    if not any(data_bin.iterdir()):
        raise DataError(f"data directory {data_bin} is empty; {prepare_hint(dataset)}")
    if not (data_bin / PREPARED).is_file():
        raise DataError(f"data directory {data_bin} is incomplete (no PREPARED marker: its "
                        f"preparation was interrupted or failed); {prepare_hint(dataset)} again")
    info_path = data_bin / "prep-info.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{info_path} is missing or not JSON ({err}); {prepare_hint(dataset)} "
                        f"with --force to rebuild it") from None
    if not isinstance(info, dict):
        raise DataError(f"{info_path} is not a JSON object; {prepare_hint(dataset)} with --force")
    task = info.get("task")
    if task not in FAMILIES:
        raise DataError(f"{info_path} names task {task!r}; expected one of {', '.join(FAMILIES)}")
    langs = info.get("langs") or []
    if isinstance(langs, str):
        langs = langs.replace("-", " ").split()
    if not isinstance(langs, list) or not all(isinstance(x, str) and x.isalnum() for x in langs):
        raise DataError(f"{info_path} lists languages {langs!r}; each must be a language code "
                        f"(letters and digits); {prepare_hint(dataset)} with --force")
    info["langs"] = list(langs)
    return info


def bpe_kind(info: dict) -> str:
    """'sentencepiece', 'subword_nmt' or 'none', from prep-info's ``remove_bpe`` or ``bpe`` entry."""
    bpe = info.get("remove_bpe") or info.get("bpe")
    text = json.dumps(bpe).lower() if isinstance(bpe, dict) else str(bpe or "none").lower()
    if "sentencepiece" in text or "spm" in text:
        return "sentencepiece"
    if text in ("none", "null", "", "false"):
        return "none"
    return "subword_nmt"


def tokenizer_kind(info: dict) -> str:
    """'moses' or 'none': how the text was tokenised before BPE."""
    tok = info.get("tokenizer")
    if isinstance(tok, dict):
        tok = tok.get("type") or tok.get("name")
    return "moses" if "moses" in str(tok or "").lower() else "none"


def _count(entry, lang) -> Optional[int]:
    """A split's line count: a number, or {lang: number} per language."""
    if isinstance(entry, dict):
        entry = entry.get(lang, next(iter(entry.values()), None)) if entry else None
    try:
        return int(entry) if entry is not None and entry != "" else None
    except (TypeError, ValueError):
        return None


def load(data_bin, task: Optional[str] = None, src: Optional[str] = None, tgt: Optional[str] = None) -> Dataset:
    """Check ``data_bin`` for a run (task, direction, binarised splits) and return its facts."""
    data_bin = Path(data_bin)
    info = read_prep_info(data_bin)
    if task and info["task"] != task:
        raise DataError(f"{data_bin} holds {info['task']} data but this command needs {task} data; "
                        f"pick a {task} dataset")
    langs = info["langs"]
    if info["task"] == TRANSLATION:
        if len(langs) != 2:
            raise DataError(f"{data_bin}/prep-info.json lists languages {langs}; a translation "
                            f"dataset needs exactly two; {prepare_hint(data_bin.name)} with --force")
        src = src or (langs[0] if tgt in (None, langs[1]) else langs[1])
        tgt = tgt or (langs[1] if src == langs[0] else langs[0])
        if {src, tgt} != set(langs) or src == tgt:
            raise DataError(f"language pair {src}-{tgt} does not match the data in {data_bin}, "
                            f"which holds {langs[0]}-{langs[1]}; use --src {langs[0]} --tgt {langs[1]} "
                            f"or --src {langs[1]} --tgt {langs[0]}")
        pair = "-".join(langs)
        needed = [f"{split}.{pair}.{lang}.idx" for split in ("train", "valid", "test") for lang in (src, tgt)]
    else:
        if src or tgt:
            raise DataError(f"{data_bin} holds language-modelling data; --src/--tgt apply to "
                            f"translation only: leave them out")
        needed = [f"{split}.idx" for split in ("train", "valid", "test")]
    for name in needed:
        if not (data_bin / name).is_file():
            raise DataError(f"{data_bin} lacks {name}; {prepare_hint(data_bin.name)} with --force")
    lines = info.get("lines") or info.get("line_counts") or {}
    lines = lines if isinstance(lines, dict) else {}
    full_model = info.get("full_model")
    if full_model is not None and full_model not in full_models(info["task"]):
        raise DataError(f"{data_bin}/prep-info.json names full_model {full_model!r}, which is no "
                        f"{info['task']} recipe ({', '.join(full_models(info['task']))}); {prepare_hint(data_bin.name)} with --force")
    # the directory's name, not prep-info's "dataset" entry, names the runs: it is what --data-root finds
    return Dataset(name=data_bin.name, data_bin=data_bin, task=info["task"], langs=langs, src=src, tgt=tgt,
                   bpe=bpe_kind(info), tokenizer=tokenizer_kind(info),
                   train_lines=_count(lines.get("train"), tgt), test_lines=_count(lines.get("test"), tgt),
                   full_model=full_model)
