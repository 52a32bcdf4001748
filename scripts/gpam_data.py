"""Check a prepared dataset against the data contract and print what the shell scripts need.

The contract (data-prep/ writes, scripts/ reads): ``$DATA_ROOT/data-bin/<dataset>/`` holds
fairseq-preprocess output, ``prep-info.json`` and an empty ``PREPARED`` written last;
``$DATA_ROOT/text/<dataset>/test.raw.<lang>`` holds the detokenised test references.

    python scripts/gpam_data.py DATA_BIN_DIR [--task translation] [--src de --tgt en]

prints shell assignments (``TASK=translation`` ...) on success, and on failure a message
naming the problem and the fix, with exit status 2. Nothing is written.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

TASKS = ("translation", "language_modeling")


class DataError(Exception):
    """The data directory breaks the contract; the message says how to fix it."""


PREPARE_SCRIPTS = {
    "iwslt14.de-en": "prepare-iwslt14.sh",
    "wmt14.en-de": "prepare-wmt14.sh",
    "wikitext-103": "prepare-wikitext103.sh",
    "ptb": "prepare-ptb.sh",
}


def _prepare_hint(dataset: str) -> str:
    script = PREPARE_SCRIPTS.get(dataset, f"prepare-offline.sh {dataset}")
    return f"run `bash data-prep/{script}` (see README, 'Data preparation')"


def read_prep_info(data_bin: Path) -> dict:
    """The validated ``prep-info.json`` of a prepared dataset."""
    dataset = data_bin.name
    if not data_bin.is_dir():
        raise DataError(f"data directory {data_bin} does not exist; {_prepare_hint(dataset)}, "
                        f"or pass --data-root DIR if it was prepared elsewhere")
    if not any(data_bin.iterdir()):
        raise DataError(f"data directory {data_bin} is empty; {_prepare_hint(dataset)}")
    if not (data_bin / "PREPARED").is_file():
        raise DataError(f"data directory {data_bin} is incomplete (no PREPARED marker: its "
                        f"preparation was interrupted or failed); {_prepare_hint(dataset)} again")
    info_path = data_bin / "prep-info.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{info_path} is missing or not JSON ({err}); {_prepare_hint(dataset)} "
                        f"with --force to rebuild it") from None
    task = info.get("task")
    if task not in TASKS:
        raise DataError(f"{info_path} names task {task!r}; expected one of {', '.join(TASKS)}")
    langs = info.get("langs") or []
    if isinstance(langs, str):
        langs = langs.replace("-", " ").split()
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


def check(data_bin: Path, task=None, src=None, tgt=None) -> dict:
    """Validate ``data_bin`` for a run; return the facts the scripts use."""
    info = read_prep_info(data_bin)
    if task and info["task"] != task:
        raise DataError(f"{data_bin} holds {info['task']} data but this script needs {task} data; "
                        f"pick a {task} dataset")
    facts = {"TASK": info["task"], "DATASET": info.get("dataset", data_bin.name)}
    if info["task"] == "translation":
        langs = info["langs"]
        if len(langs) != 2:
            raise DataError(f"{data_bin}/prep-info.json lists languages {langs}; a translation "
                            f"dataset needs exactly two; rebuild it with data-prep/")
        src = src or langs[0]
        tgt = tgt or (langs[1] if src == langs[0] else langs[0])
        if {src, tgt} != set(langs) or src == tgt:
            raise DataError(f"language pair {src}-{tgt} does not match the data in {data_bin}, "
                            f"which holds {langs[0]}-{langs[1]}; use --src {langs[0]} --tgt {langs[1]} "
                            f"or --src {langs[1]} --tgt {langs[0]}")
        pair = "-".join(langs)
        for split in ("train", "valid", "test"):
            for lang in (src, tgt):
                if not (data_bin / f"{split}.{pair}.{lang}.idx").is_file():
                    raise DataError(f"{data_bin} lacks {split}.{pair}.{lang}.idx; "
                                    f"{_prepare_hint(data_bin.name)} with --force")
        facts.update(SRC=src, TGT=tgt, BPE=bpe_kind(info), TOKENIZER=tokenizer_kind(info))
    else:
        if src or tgt:
            raise DataError(f"{data_bin} holds language-modelling data; --src/--tgt apply to "
                            f"translation only: leave them out")
        for split in ("train", "valid", "test"):
            if not (data_bin / f"{split}.idx").is_file():
                raise DataError(f"{data_bin} lacks {split}.idx; {_prepare_hint(data_bin.name)} with --force")
        facts["BPE"] = bpe_kind(info)
    lines = info.get("lines") or info.get("line_counts") or {}
    facts["TRAIN_LINES"] = _count(lines.get("train"), facts.get("TGT"))
    facts["TEST_LINES"] = _count(lines.get("test"), facts.get("TGT"))
    return facts


def _count(entry, lang) -> str:
    """A split's line count: a number, or {lang: number} per language."""
    if isinstance(entry, dict):
        entry = entry.get(lang, next(iter(entry.values()), "")) if entry else ""
    return "" if entry is None else str(entry)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_bin", type=Path)
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--src")
    parser.add_argument("--tgt")
    args = parser.parse_args(argv)
    try:
        facts = check(args.data_bin, args.task, args.src, args.tgt)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key, value in facts.items():
        print(f"{key}={shlex.quote(str(value))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
