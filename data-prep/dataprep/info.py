"""prep-info.json: what a prepared dataset is and how it was made (the data contract's record).

Fields: dataset, task (translation | language_modeling), langs (source first for translation),
tokenizer, lowercase, bpe (subword_nmt | sentencepiece | none), bpe_size, remove_bpe (the value
for fairseq-generate --remove-bpe, or null), bpe_model (file name in the data-bin dir, or null),
vocabulary_size (fairseq dictionary entries, per language), lines (per split, per file),
sources (files used, their SHA-256 and what they were verified against), recipe, command,
created (UTC), tool versions.
"""

import datetime
import glob
import json
import os
from importlib import metadata
from typing import Dict, List, Optional

from .textio import read_lines


SPLITS = ("train", "valid", "test", "test.raw")


def _count_lines(text_dir: str, task: str) -> Dict[str, object]:
    """{split: lines} (language modelling) or {split: {lang: lines}} (translation)."""
    counts: Dict[str, object] = {}
    for split in SPLITS:
        if task == "language_modeling":
            path = os.path.join(text_dir, f"{split}.txt")
            if os.path.isfile(path):
                counts[split] = len(read_lines(path))
            continue
        per_lang = {}
        for path in sorted(glob.glob(os.path.join(text_dir, f"{split}.*"))):
            lang = os.path.basename(path)[len(split) + 1:]
            if "." not in lang and lang not in ("txt", "codes", "model"):
                per_lang[lang] = len(read_lines(path))
        if per_lang:
            counts[split] = per_lang
    return counts


def _dict_sizes(bin_dir: str, langs: List[str]) -> Dict[str, int]:
    """Dictionary entries per language (language modelling: dict.txt, under langs[0])."""
    sizes = {}
    for path in sorted(glob.glob(os.path.join(bin_dir, "dict*.txt"))):
        name = os.path.basename(path)
        lang = langs[0] if name == "dict.txt" else name[len("dict."): -len(".txt")]
        # fairseq adds 4 special symbols (<s>, <pad>, </s>, <unk>) to the listed entries
        sizes[lang] = len(read_lines(path)) + 4
    return sizes


def _version(package: str) -> Optional[str]:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def write(path: str, *, dataset: str, task: str, langs: List[str], tokenizer: str,
          lowercase: bool, bpe: str, bpe_size: Optional[int], bpe_model: Optional[str],
          text_dir: str, bin_dir: str, sources: List[dict], recipe: str, command: str,
          extra: Optional[dict] = None) -> dict:
    lines = _count_lines(text_dir, task)
    info = {
        "dataset": dataset,
        "task": task,
        "langs": langs,
        "tokenizer": tokenizer,
        "lowercase": lowercase,
        "bpe": bpe,
        "bpe_size": bpe_size,
        "remove_bpe": bpe if bpe in ("subword_nmt", "sentencepiece") else None,
        "bpe_model": bpe_model,
        "vocabulary_size": _dict_sizes(bin_dir, langs),
        "lines": lines,
        "sources": sources,
        "recipe": recipe,
        "command": command,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tools": {p: _version(p) for p in ("fairseq-fixed", "sacremoses", "subword-nmt",
                                             "sentencepiece")},
    }
    if extra:
        info.update(extra)
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)
    return info
