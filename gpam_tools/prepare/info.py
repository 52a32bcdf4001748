"""prep-info.json: what a prepared dataset is and how it was made (the data contract's record).

It sits in ``$DATA_ROOT/data-bin/<dataset>/`` beside fairseq-preprocess output; ``PREPARED`` is
written after it. Readers (``gpam_tools/run/datasets.py``) take everything a run needs from here and
never from a list of dataset names. Fields written by ``gpam prepare`` (schema_version 2):

Since the first version (every reader may rely on them):
    dataset          the directory name under data-bin/ and text/
    task             "translation" | "language_modeling" (fairseq's --task)
    langs            language codes; translation: [source, target] as binarised
    tokenizer        "moses" | "none" | a description (PTB, WikiText: tokenised by their authors)
    lowercase        true if the text (and the test references) were lowercased
    bpe              "subword_nmt" | "sentencepiece" | "none"
    bpe_size         merges (subword_nmt) or pieces (sentencepiece); null for "none"
    remove_bpe       the value for fairseq-generate --remove-bpe, or null
    bpe_model        file name of the subword model in data-bin/ and text/, or null
    vocabulary_size  {lang: fairseq dictionary entries incl. 4 specials} (LM: under langs[0])
    lines            {split: lines} (LM) or {split: {lang: lines}} (translation); test.raw too
    sources          [{name, path, origin, sha256, verified}] every input file used
    recipe           one line: the steps applied
    command          the command that prepared it
    created          UTC time, ISO 8601
    tools            {package: version} of fairseq-fixed, sacremoses, subword-nmt, sentencepiece
    text_dir, data_bin_dir   where the two published directories are
    split            en_lm and custom LM corpora split by document: documents and words per split

New in schema_version 2 (optional for readers: absent in datasets prepared earlier):
    schema_version   2
    kind             "benchmark" | "shipped" | "custom"
    model_family     the recipe family of gpam_tools/run/recipes.py: equals ``task``
    full_model       the full-size recipe the field uses for this data ("iwslt", "base", "lm",
                     "lm15"); a default only: ``gpam train --model`` may choose another
    src, tgt         translation only: langs[0], langs[1]; the binarised files are named
                     {split}.{src}-{tgt}.{lang}; one joined dictionary serves both directions
    test_reference   translation only: {"file": "test.raw.{lang}", "lowercase": bool,
                     "tokenized": false}: the sacreBLEU references, in text_dir
    allow_unverified true if a source without a checksum was accepted with --allow-unverified
    unverified       names of the sources accepted that way (empty list otherwise)
    options          custom corpora: the preparation choices (tokenizer, case, subword model,
                     split, seed, empty pairs skipped) as given on the command line
"""

import datetime
import glob
import os
from importlib import metadata
from typing import Dict, List, Optional

from gpam_tools.atomic import write_json_atomic

from .textio import read_lines

SCHEMA_VERSION = 2
SPLITS = ("train", "valid", "test", "test.raw")
KINDS = ("benchmark", "shipped", "custom")


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


def write(path: str, *, dataset: str, kind: str, task: str, langs: List[str], full_model: str,
          tokenizer: str, lowercase: bool, bpe: str, bpe_size: Optional[int],
          bpe_model: Optional[str], text_dir: str, bin_dir: str, sources: List[dict],
          recipe: str, command: str, published_text_dir: str, published_bin_dir: str,
          extra: Optional[dict] = None) -> dict:
    """Write prep-info.json for the staged ``text_dir``/``bin_dir``; returns what was written.

    ``published_*`` are the directories the staged ones become (recorded as text_dir and
    data_bin_dir); ``sources`` are the input files as ``fetch.resolve`` or the recipe found them.
    """
    assert kind in KINDS, kind
    unverified = [s["name"] for s in sources if "--allow-unverified" in s.get("verified", "")]
    info = {
        "schema_version": SCHEMA_VERSION,
        "dataset": dataset,
        "kind": kind,
        "task": task,
        "model_family": task,
        "full_model": full_model,
        "langs": langs,
        "tokenizer": tokenizer,
        "lowercase": lowercase,
        "bpe": bpe,
        "bpe_size": bpe_size,
        "remove_bpe": bpe if bpe in ("subword_nmt", "sentencepiece") else None,
        "bpe_model": bpe_model,
        "vocabulary_size": _dict_sizes(bin_dir, langs),
        "lines": _count_lines(text_dir, task),
        "sources": sources,
        "allow_unverified": bool(unverified),
        "unverified": unverified,
        "recipe": recipe,
        "command": command,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tools": {p: _version(p) for p in ("fairseq-fixed", "sacremoses", "subword-nmt",
                                             "sentencepiece")},
        "text_dir": published_text_dir,
        "data_bin_dir": published_bin_dir,
    }
    if task == "translation":
        info["src"], info["tgt"] = langs
        info["test_reference"] = {"file": "test.raw.{lang}", "lowercase": lowercase,
                                  "tokenized": False}
    if extra:
        info.update(extra)
    write_json_atomic(path, info)
    return info
