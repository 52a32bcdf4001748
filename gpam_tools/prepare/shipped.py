"""The corpora shipped in ``data-prep/corpora/`` (real text, offline; see data-prep/NOTICE).

    ci_deen    2,000/200/200 German-English pairs (tests, the quick demo)
    deen_docs  108k/2.0k/1.5k German-English pairs of Debian documentation
    ci_lm      Wikipedia articles, 54k/4.9k/2.7k words (tests, the quick demo)
    en_lm      4.5M words of English running text, split here by document

German-English follows the IWSLT14 recipe (Moses tokenisation, lowercase, joint BPE sized for
the corpus) without its cleaning step (the corpus was length-ratio filtered when it was built).
English LM: WikiText-style Moses tokens (hyphens as @-@, no escaping, cased), then BPE learned
on train (word-level would leave ~30% of ci_lm's valid/test words unknown: its articles share
few rare words); perplexity is therefore per BPE token, not per word.
"""

import os
from typing import Dict, List

from . import extract, lmsplit, moses, steps
from .errors import PrepError
from .sources import file_digest
from .stage import Preparation, log

CORPORA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "data-prep", "corpora")
EN_LM_SPLIT = (0.025, 0.025, 1)  # en_lm: valid and test share of each source's words, seed


def corpus_sources(paths: List[str]) -> List[dict]:
    """prep-info ``sources`` entries for shipped files."""
    return [{"name": os.path.basename(p), "path": os.path.abspath(p), "origin": "shipped corpus",
             "sha256": file_digest(p, "sha256"),
             "verified": "SHA256SUMS.uncompressed" if p.endswith(".xz") else "shipped in the repo"}
            for p in paths]


def _files(dataset: str) -> Dict[str, str]:
    """{output name: shipped file} of a shipped corpus."""
    if dataset == "ci_deen":
        return {f"{s}.{l}": os.path.join(CORPORA, "ci_deen", f"{s}.{l}")
                for s in steps.SPLITS for l in ("de", "en")}
    if dataset == "deen_docs":
        return {f"{s}.{l}": os.path.join(CORPORA, "deen-debian-docs", f"{s}.{l}.xz")
                for s in steps.SPLITS for l in ("de", "en")}
    if dataset == "ci_lm":
        return {f"{s}.txt": os.path.join(CORPORA, "ci_lm", f"wiki.{s}.tokens") for s in steps.SPLITS}
    folder = os.path.join(CORPORA, "en-lm")  # en_lm: decompressed whole; split here
    names = sorted(n for n in os.listdir(folder) if n.endswith(".xz")) if os.path.isdir(folder) else []
    return {n[: -len(".xz")]: os.path.join(folder, n) for n in names}


def _copy_corpus(dataset: str, out: str) -> List[dict]:
    """Shipped corpus -> ``out`` (checked); returns its prep-info ``sources``."""
    files = _files(dataset)
    missing = [p for p in files.values() if not os.path.isfile(p) or os.path.getsize(p) == 0]
    if missing or not files:
        raise PrepError(f"shipped corpus file(s) missing or empty: {', '.join(missing) or CORPORA}. "
                        "Restore them with: git checkout -- data-prep/corpora")
    decompress = next(iter(files.values())).endswith(".xz")
    counts = extract.copy_lines(files, out, decompress=decompress)
    print("extracted " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if decompress:
        sums = os.path.join(os.path.dirname(next(iter(files.values()))), "SHA256SUMS.uncompressed")
        extract.verify_uncompressed(sums, out)
    return corpus_sources(list(files.values()))


def build_translation(prep: Preparation, a) -> dict:
    """ci_deen, deen_docs: tokenise, lowercase, joint subword model, binarise."""
    src, tgt = "de", "en"
    raw, tok = os.path.join(prep.work, "raw"), os.path.join(prep.work, "tok")
    os.makedirs(raw)
    os.makedirs(tok)
    log("step: copy (and check) the shipped corpus")
    sources = _copy_corpus(prep.dataset, raw)
    tokenizer = steps.default_tokenizer(a.bpe)
    log(f"step: tokenise ({tokenizer}) and lowercase")
    for lang in (src, tgt):
        opts = moses.TokenizeOptions(lang=lang, method=tokenizer, lowercase=True)
        steps.tokenize([(f"{raw}/{s}.{lang}", f"{tok}/{s}.{lang}") for s in steps.SPLITS],
                       opts, a.workers)
    steps.raw_references(prep, {lang: f"{raw}/test.{lang}" for lang in (src, tgt)}, lowercase=True)
    model = steps.joint_subword(prep, a.bpe, a.bpe_size, tok, prep.stage_text, (src, tgt),
                                a.workers)
    steps.binarize_translation(prep, src, tgt, a.workers)
    return dict(langs=[src, tgt], tokenizer=tokenizer, lowercase=True, bpe=a.bpe,
                bpe_size=a.bpe_size, bpe_model=model, sources=sources,
                recipe=f"IWSLT14-style: tokenise, lowercase, joint {a.bpe} {a.bpe_size} (no "
                       "cleaning: the corpus is length-ratio filtered already)")


def build_lm(prep: Preparation, a) -> dict:
    """ci_lm, en_lm (split by document here): WikiText-style tokens, subword model, binarise."""
    raw, tok = os.path.join(prep.work, "raw"), os.path.join(prep.work, "tok")
    os.makedirs(raw)
    os.makedirs(tok)
    log("step: copy (and check) the shipped corpus")
    sources = _copy_corpus(prep.dataset, raw)
    extra = {}
    if prep.dataset == "en_lm":
        valid, test, seed = EN_LM_SPLIT
        log(f"step: split by document (valid {valid}, test {test} of each source, seed {seed})")
        named = [(n[: -len(".txt")], os.path.join(raw, n)) for n in sorted(os.listdir(raw))]
        extra["split"] = lmsplit.split_sources(named, os.path.join(prep.work, "split."),
                                               valid, test, seed)
        lmsplit.print_stats(extra["split"])
        for s in steps.SPLITS:
            os.replace(os.path.join(prep.work, f"split.{s}.txt"), os.path.join(raw, f"{s}.txt"))
    tokenizer = steps.default_tokenizer(a.bpe)
    log(f"step: tokenise ({tokenizer}, WikiText-style, cased)")
    opts = moses.TokenizeOptions(lang="en", method=tokenizer, escape=False, aggressive_dash=True)
    steps.tokenize([(f"{raw}/{s}.txt", f"{tok}/{s}.txt") for s in steps.SPLITS], opts, a.workers)
    model = steps.subword_model(prep, a.bpe, a.bpe_size, [f"{tok}/train.txt"])
    steps.apply_subword(prep, a.bpe, model, [(f"{tok}/{s}.txt", f"{prep.stage_text}/{s}.txt")
                                             for s in steps.SPLITS], a.workers)
    steps.binarize_lm(prep, a.workers)
    split_note = "; split by document" if prep.dataset == "en_lm" else ""
    return dict(langs=["en"], tokenizer=tokenizer, lowercase=False, bpe=a.bpe,
                bpe_size=a.bpe_size, bpe_model=model, sources=sources, extra=extra,
                recipe=f"WikiText-style tokens (no escaping, @-@), cased, {a.bpe} {a.bpe_size} "
                       f"learned on train{split_note}")
