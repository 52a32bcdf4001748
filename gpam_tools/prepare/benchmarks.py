"""The four benchmarks, each following the recipe the field uses (files from ``fetch.resolve``).

    iwslt14.de-en  fairseq's prepare-iwslt14.sh: Moses tokenisation, clean (1-175 words, ratio
                   1.5, train only), lowercase, valid = every 23rd line of the cleaned train,
                   test = dev2010 + dev2012 + tst2010-2012, joint BPE 10k
    wmt14.en-de    fairseq's prepare-wmt14en2de.sh: Europarl v7 + CommonCrawl + News Commentary
                   v12; normalise punctuation, tokenise -a, joint BPE 40k, pairs of 1-250
                   subwords with ratio <= 1.5 (train and valid); cased. Valid newstest2013 (as
                   Vaswani et al.; fairseq takes every 100th train line), test newstest2014 full
    wikitext-103   fairseq's examples/language_model: wiki.*.tokens as they are, full vocabulary
    ptb            Mikolov's PTB language-modelling text as it is (10k words, <unk>)

Each ``build_*(prep, a)`` writes the staged text and data-bin directories and returns the facts
for prep-info.json (``info.write`` keywords). ``a`` holds the parsed ``gpam prepare`` options.
"""

import os
import shutil
from typing import Dict

from . import extract, fetch, moses, steps
from .stage import Preparation, log

IWSLT_CLEAN = (1, 175, 1.5)     # clean-corpus-n min, max words, length ratio (train only)
IWSLT_VALID_EVERY = 23          # valid = every 23rd line of the cleaned train
WMT_CLEAN = (1, 250, 1.5)       # after BPE, train and valid


def _fetch(prep: Preparation, a) -> Dict[str, str]:
    """Find or download, and verify, the dataset's files; {name: path}, and a.sources set."""
    log("step: fetch and verify")
    resolved = fetch.resolve(prep.dataset, a.archive, a.archive_dir, prep.downloads, a.sha256,
                             a.timeout, offline=a.offline, allow_unverified=a.allow_unverified)
    print(f"{len(resolved)} source file(s) ready")
    a.sources = [vars(r) for r in resolved]
    return {r.name: r.path for r in resolved}


def _counts(counts: Dict[str, int]) -> None:
    print("extracted " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


def _dirs(prep: Preparation, *names: str):
    paths = [os.path.join(prep.work, n) for n in names]
    for p in paths:
        os.makedirs(p, exist_ok=True)
    return paths


def build_iwslt14(prep: Preparation, a) -> dict:
    src, tgt = "de", "en"
    files = _fetch(prep, a)
    raw, tok = _dirs(prep, "raw", "tok")
    log("step: extract train.tags and the IWSLT14 test sets")
    _counts(extract.iwslt14(files["de-en.tgz"], src, tgt, raw))
    tokenizer = steps.default_tokenizer(a.bpe)
    log(f"step: tokenise ({tokenizer}) and lowercase")
    for lang in (src, tgt):
        opts = moses.TokenizeOptions(lang=lang, method=tokenizer, lowercase=True)
        steps.tokenize([(f"{raw}/train.{lang}", f"{tok}/train.all.{lang}"),
                        (f"{raw}/test.{lang}", f"{tok}/test.{lang}")], opts, a.workers)
    # sacreBLEU references: the untokenised test text, lowercased as the recipe's BLEU is
    steps.raw_references(prep, {lang: f"{raw}/test.{lang}" for lang in (src, tgt)}, lowercase=True)
    low, high, ratio = IWSLT_CLEAN
    log(f"step: clean train ({low}-{high} words, ratio {ratio}); "
        f"valid = every {IWSLT_VALID_EVERY}rd line")
    kept, read = moses.clean_parallel(f"{tok}/train.all", f"{tok}/train.clean", src, tgt,
                                      ratio, low, high)
    print(f"clean: kept {kept} of {read} pairs (length {low}-{high}, ratio <= {ratio})")
    for lang in (src, tgt):
        keep, nth = moses.split_every(f"{tok}/train.clean.{lang}", f"{tok}/train.{lang}",
                                      f"{tok}/valid.{lang}", IWSLT_VALID_EVERY)
        print(f"split train.clean.{lang}: {keep} lines kept, {nth} -> valid.{lang}")
    model = steps.joint_subword(prep, a.bpe, a.bpe_size, tok, prep.stage_text, (src, tgt),
                                a.workers)
    steps.binarize_translation(prep, src, tgt, a.workers)
    return dict(langs=[src, tgt], tokenizer=tokenizer, lowercase=True, bpe=a.bpe,
                bpe_size=a.bpe_size, bpe_model=model, sources=a.sources,
                recipe=f"fairseq prepare-iwslt14.sh steps: tokenise, clean {low}-{high} ratio "
                       f"{ratio}, lowercase, valid every {IWSLT_VALID_EVERY}rd train line, test "
                       f"dev2010+dev2012+tst2010-2012, joint {a.bpe} {a.bpe_size}")


def build_wmt14(prep: Preparation, a) -> dict:
    src, tgt = "en", "de"
    files = _fetch(prep, a)
    raw, tok, sub = _dirs(prep, "raw", "tok", "sub")
    log("step: extract training corpora, newstest2013 and newstest2014")
    _counts(extract.wmt14(files, src, tgt, raw))
    tokenizer = steps.default_tokenizer(a.bpe)
    log(f"step: normalise punctuation and tokenise ({tokenizer}, aggressive hyphen splitting)")
    for lang in (src, tgt):
        opts = moses.TokenizeOptions(lang=lang, method=tokenizer, norm_punct=True,
                                     aggressive_dash=True)
        steps.tokenize([(f"{raw}/{s}.{lang}", f"{tok}/{s}.{lang}") for s in steps.SPLITS],
                       opts, a.workers)
    # sacreBLEU reference: the untokenised, cased newstest2014 text
    steps.raw_references(prep, {lang: f"{raw}/test.{lang}" for lang in (src, tgt)}, lowercase=False)
    model = steps.joint_subword(prep, a.bpe, a.bpe_size, tok, sub, (src, tgt), a.workers)
    low, high, ratio = WMT_CLEAN
    log(f"step: clean train and valid after BPE ({low}-{high} subwords, ratio {ratio})")
    for split in ("train", "valid"):
        kept, read = moses.clean_parallel(f"{sub}/{split}", f"{prep.stage_text}/{split}", src, tgt,
                                          ratio, low, high)
        print(f"clean {split}: kept {kept} of {read} pairs")
    for lang in (src, tgt):
        shutil.move(f"{sub}/test.{lang}", f"{prep.stage_text}/test.{lang}")
    steps.binarize_translation(prep, src, tgt, a.workers)
    return dict(langs=[src, tgt], tokenizer=tokenizer, lowercase=False, bpe=a.bpe,
                bpe_size=a.bpe_size, bpe_model=model, sources=a.sources,
                recipe="fairseq prepare-wmt14en2de.sh steps (europarl v7 + commoncrawl + "
                       f"news-commentary v12): normalise punctuation, tokenise -a, joint {a.bpe} "
                       f"{a.bpe_size}, clean {low}-{high} ratio {ratio}; valid newstest2013, "
                       "test newstest2014 (full)")


def build_wikitext103(prep: Preparation, a) -> dict:
    files = _fetch(prep, a)
    log("step: extract wiki.{train,valid,test}.tokens")
    _counts(extract.wikitext103(files["wikitext-103-v1.zip"], prep.stage_text))
    steps.binarize_lm(prep, a.workers)
    return dict(langs=["en"], tokenizer="wikitext (tokenised by its authors)", lowercase=False,
                bpe="none", bpe_size=None, bpe_model=None, sources=a.sources,
                recipe="fairseq examples/language_model: wiki.*.tokens as is, "
                       "fairseq-preprocess --only-source, full vocabulary")


def build_ptb(prep: Preparation, a) -> dict:
    files = _fetch(prep, a)
    log("step: copy ptb.{train,valid,test}.txt")
    _counts(extract.copy_lines({f"{s}.txt": files[f"ptb.{s}.txt"] for s in steps.SPLITS},
                               prep.stage_text))
    steps.binarize_lm(prep, a.workers)
    return dict(langs=["en"], tokenizer="ptb (Mikolov's preprocessing)", lowercase=True,
                bpe="none", bpe_size=None, bpe_model=None, sources=a.sources,
                recipe="Mikolov's PTB language-modelling text as is, "
                       "fairseq-preprocess --only-source")
