"""The recipe of a custom corpus (``gpam prepare custom``), on text already checked and loaded
by ``custom_checks``: write the raw splits, tokenise (Moses or none, optionally lowercased),
learn a (joint) subword model on train and apply it, binarise.

Translation keeps the untokenised test text as ``test.raw.<lang>`` (sacreBLEU's references,
lowercased with --lowercase); language modelling tokenises with Moses without XML escaping.
"""

import os

from . import moses, steps
from .custom_checks import Corpus
from .errors import PrepError
from .stage import Preparation, log
from .textio import write_lines

# fairseq's examples train the IWSLT model on ~160k pairs and the WMT base model on ~4.5M
LARGE_TRANSLATION_PAIRS = 1_000_000


def _write_raw(prep: Preparation, corpus: Corpus) -> str:
    raw = os.path.join(prep.work, "raw")
    os.makedirs(raw)
    for split, per_lang in corpus.text.items():
        for lang, lines in per_lang.items():
            write_lines(os.path.join(raw, f"{split}.{lang}"), lines)
    counts = {split: len(next(iter(per_lang.values()))) for split, per_lang in corpus.text.items()}
    print("corpus " + ", ".join(f"{split}: {n} lines" for split, n in counts.items()))
    return raw


def _options(a, corpus: Corpus) -> dict:
    """The choices made on the command line, for prep-info.json's ``options``."""
    options = {"tokenizer": a.tokenizer, "lowercase": a.lowercase, "bpe": a.bpe,
               "bpe_size": a.bpe_size, "split": a.split, "seed": a.seed}
    if a.task == "translation":
        options.update(skip_empty=a.skip_empty, pairs_skipped=corpus.skipped,
                       max_words=a.max_words, max_ratio=a.max_ratio)
    else:
        options["documents"] = a.documents
    return options


def build_translation(prep: Preparation, a) -> dict:
    corpus: Corpus = a.corpus
    src, tgt = a.src, a.tgt
    raw = _write_raw(prep, corpus)
    tok = os.path.join(prep.work, "tok")
    os.makedirs(tok)
    log(f"step: tokenise ({a.tokenizer}){' and lowercase' if a.lowercase else ''}")
    for lang in (src, tgt):
        opts = moses.TokenizeOptions(lang=lang, method=a.tokenizer, lowercase=a.lowercase)
        steps.tokenize([(f"{raw}/{s}.{lang}", f"{tok}/{s}.{lang}") for s in steps.SPLITS],
                       opts, a.workers)
    steps.raw_references(prep, {lang: f"{raw}/test.{lang}" for lang in (src, tgt)}, a.lowercase)
    cleaned = _clean_train(tok, a) if a.max_words or a.max_ratio else ""
    model = steps.joint_subword(prep, a.bpe, a.bpe_size, tok, prep.stage_text, (src, tgt),
                                a.workers)
    steps.binarize_translation(prep, src, tgt, a.workers)
    held_out = f", valid/test held out at random (seed {a.seed})" if a.split else ""
    return dict(langs=[src, tgt], tokenizer=a.tokenizer, lowercase=a.lowercase, bpe=a.bpe,
                bpe_size=a.bpe_size, bpe_model=model, sources=corpus.sources,
                extra={"options": _options(a, corpus)},
                recipe=f"custom corpus: tokenise ({a.tokenizer}), "
                       f"{cleaned}{'lowercase' if a.lowercase else 'cased'}, joint {a.bpe} "
                       f"{a.bpe_size}{held_out}")


def _clean_train(tok: str, a) -> str:
    """clean-corpus-n on the tokenised training pairs (--max-words, --max-ratio); returns the
    recipe's words for it."""
    max_words = a.max_words or float("inf")
    ratio = a.max_ratio or float("inf")
    log(f"step: clean train (at most {a.max_words or 'any number of'} tokens a side, "
        f"ratio <= {a.max_ratio or 'any'})")
    kept, read = moses.clean_parallel(f"{tok}/train", f"{tok}/train.clean", a.src, a.tgt, ratio,
                                      1, max_words)
    print(f"clean: kept {kept} of {read} training pairs")
    if kept == 0:
        raise PrepError(f"--max-words/--max-ratio leave no training pair of {read}: relax them")
    for lang in (a.src, a.tgt):
        os.replace(f"{tok}/train.clean.{lang}", f"{tok}/train.{lang}")
    return (f"clean train (max {a.max_words or '-'} tokens, ratio {a.max_ratio or '-'}: "
            f"{read - kept} of {read} pairs dropped), ")


def build_lm(prep: Preparation, a) -> dict:
    corpus: Corpus = a.corpus
    raw = _write_raw(prep, corpus)
    tok = os.path.join(prep.work, "tok")
    os.makedirs(tok)
    log(f"step: tokenise ({a.tokenizer}, no XML escaping){' and lowercase' if a.lowercase else ''}")
    opts = moses.TokenizeOptions(lang=a.lang, method=a.tokenizer, escape=False,
                                 lowercase=a.lowercase)
    steps.tokenize([(f"{raw}/{s}.txt", f"{tok}/{s}.txt") for s in steps.SPLITS], opts, a.workers)
    model = steps.subword_model(prep, a.bpe, a.bpe_size, [f"{tok}/train.txt"])
    steps.apply_subword(prep, a.bpe, model, [(f"{tok}/{s}.txt", f"{prep.stage_text}/{s}.txt")
                                             for s in steps.SPLITS], a.workers)
    steps.binarize_lm(prep, a.workers)
    extra = {"options": _options(a, corpus)}
    if corpus.split_stats:
        extra["split"] = corpus.split_stats
    by_doc = "; split by document here" if a.split else ""
    return dict(langs=[a.lang], tokenizer=a.tokenizer, lowercase=a.lowercase, bpe=a.bpe,
                bpe_size=a.bpe_size, bpe_model=model, sources=corpus.sources, extra=extra,
                recipe=f"custom corpus: tokenise ({a.tokenizer}, no escaping), "
                       f"{'lowercase' if a.lowercase else 'cased'}, {a.bpe} {a.bpe_size} "
                       f"learned on train{by_doc}")


def full_model(a) -> str:
    """The full-size model the field would use on data of this size (a default only)."""
    if a.task == "language_modeling":
        return "lm"
    pairs = len(a.corpus.text["train"][a.src])
    return "base" if pairs >= LARGE_TRANSLATION_PAIRS else "iwslt"
