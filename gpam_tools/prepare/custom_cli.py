"""``gpam prepare custom``: your own corpus under the data contract, for translation or LM.

Translation (line-aligned files PREFIX.<src> and PREFIX.<tgt>):

    gpam prepare custom --name europarl.es-en --src es --tgt en --train data/train \\
        --valid data/dev --test data/test
    gpam prepare custom --name europarl.es-en --src es --tgt en --train data/all --split 2000,2000

Language modelling (plain text, one sentence or paragraph a line):

    gpam prepare custom --name mybooks --lang en --train train.txt --valid valid.txt --test test.txt
    gpam prepare custom --name mybooks --lang en --train all.txt --split 0.05,0.05

The result trains with ``gpam train``/``gpam study`` like any other dataset: its task and
languages are in its prep-info.json. Every input is checked before anything is written.
"""

import argparse
import shlex
from typing import List

from gpam_tools.run.datasets import default_data_root

from . import custom, custom_checks, run
from .cli import add_run_options, positive_int
from .errors import PrepError
from .steps import default_tokenizer
from .subword import METHODS

DEFAULT_BPE_SIZE = 8000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpam prepare custom", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Prepare your own corpus, for translation (--src/--tgt) or language "
                    "modelling (--lang), under the data contract; every input is checked "
                    "before anything is written.",
        epilog="examples:\n" + "\n".join(line for line in __doc__.splitlines()
                                         if line.startswith("    ")))
    p.add_argument("--name", required=True,
                   help="dataset name: the directory under text/ and data-bin/")
    g = p.add_argument_group("translation")
    g.add_argument("--src", metavar="LANG", help="source language code (2-3 letters)")
    g.add_argument("--tgt", metavar="LANG", help="target language code (2-3 letters)")
    g.add_argument("--skip-empty", action="store_true",
                   help="drop pairs with an empty side (counted in prep-info.json) "
                        "instead of refusing them")
    g.add_argument("--max-words", type=positive_int, metavar="N",
                   help="drop training pairs with a side of more than N tokens (fairseq's recipes: "
                        "175 IWSLT, 250 WMT); valid and test are kept whole")
    g.add_argument("--max-ratio", type=float, metavar="R",
                   help="drop training pairs whose token counts differ by a factor above R "
                        "(fairseq's recipes: 1.5)")
    g = p.add_argument_group("language modelling")
    g.add_argument("--lang", metavar="LANG", help="language code of the text (2-3 letters)")
    g.add_argument("--documents", choices=("blank-line", "wikitext"), default="blank-line",
                   help="with --split: documents are separated by empty lines (default) or "
                        "start at WikiText ' = Title = ' lines")
    g = p.add_argument_group("splits")
    g.add_argument("--train", required=True, metavar="PATH",
                   help="translation: the prefix of PREFIX.<src> and PREFIX.<tgt>; LM: a file")
    g.add_argument("--valid", metavar="PATH", help="as --train, for validation")
    g.add_argument("--test", metavar="PATH", help="as --train, for the test")
    g.add_argument("--split", metavar="N,N",
                   help="instead of --valid/--test, hold them out of --train: translation "
                        "N,N pairs (at random), LM F,F shares of the words (whole documents)")
    g.add_argument("--seed", type=int, default=1, help="seed of --split (default 1)")
    g = p.add_argument_group("recipe")
    g.add_argument("--tokenizer", choices=("moses", "none"),
                   help="moses (sacremoses) or none (whitespace only); default: moses with "
                        "subword_nmt, none with sentencepiece (it segments raw text itself)")
    g.add_argument("--lowercase", action="store_true",
                   help="lowercase the text and the test references (default: keep case)")
    g.add_argument("--bpe", choices=METHODS, default="subword_nmt",
                   help="subword model: subword_nmt (joint BPE, default) or sentencepiece")
    g.add_argument("--bpe-size", type=positive_int, default=DEFAULT_BPE_SIZE, metavar="N",
                   help=f"BPE merges or sentencepiece pieces (default {DEFAULT_BPE_SIZE})")
    add_run_options(p)
    return p


def check_task(a: argparse.Namespace) -> None:
    """Which task the options ask for, and whether they are complete and consistent."""
    if a.lang and (a.src or a.tgt):
        raise PrepError("--lang is for language modelling, --src/--tgt for translation: give "
                        "--lang alone, or --src and --tgt")
    if not (a.lang or a.src or a.tgt):
        raise PrepError("say what the corpus is: --src LANG --tgt LANG for translation, or "
                        "--lang LANG for language modelling")
    a.task = "language_modeling" if a.lang else "translation"
    if a.task == "translation":
        custom_checks.check_lang("--src", a.src)
        custom_checks.check_lang("--tgt", a.tgt)
        if a.src == a.tgt:
            raise PrepError(f"--src and --tgt are both '{a.src}': a translation corpus has two "
                            "languages")
    else:
        custom_checks.check_lang("--lang", a.lang)
        given = [o for o, v in (("--skip-empty", a.skip_empty), ("--max-words", a.max_words),
                                ("--max-ratio", a.max_ratio)) if v]
        if given:
            raise PrepError(f"{' '.join(given)}: for translation pairs only; leave it out for "
                            "language-modelling text")
    given = [opt for opt in ("valid", "test") if getattr(a, opt)]
    if a.split is not None and given:
        raise PrepError(f"--split holds valid and test out of --train; do not also give "
                        f"--{' --'.join(given)}")
    if a.split is None and len(given) != 2:
        missing = " and ".join(f"--{s}" for s in ("valid", "test") if not getattr(a, s))
        raise PrepError(f"{missing} missing: give both --valid and --test, or --split to hold "
                        "them out of --train")
    if a.max_ratio is not None and not a.max_ratio >= 1:
        raise PrepError(f"--max-ratio {a.max_ratio}: a length ratio is at least 1 (e.g. 1.5)")
    if a.split is not None:  # its form is checked before any file is read
        custom_checks.parse_split(a.split, translation=a.task == "translation")
    a.tokenizer = a.tokenizer or default_tokenizer(a.bpe)


def main(argv: List[str]) -> int:
    """``gpam prepare custom [options]`` (``cli.main`` prints a PrepError and returns 2)."""
    a = build_parser().parse_args(argv)
    a.data_root = a.data_root or str(default_data_root())
    check_task(a)
    custom_checks.check_name(a.name, a.data_root, a.force)
    a.corpus = (custom_checks.translation(a) if a.task == "translation"
                else custom_checks.language_modeling(a))
    build = custom.build_translation if a.task == "translation" else custom.build_lm
    return run.prepare(dataset=a.name, kind="custom", task=a.task, full_model=custom.full_model(a),
                       data_root=a.data_root, force=a.force,
                       command=shlex.join(["gpam", "prepare", "custom", *argv]), build=build,
                       options=a)

