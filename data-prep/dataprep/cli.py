"""``python -m dataprep <step> ...``: the text-processing steps the prepare-*.sh scripts call.

Every step reads and writes plain files, prints one summary line, and on bad input exits with
status 2 and a message ``ERROR: <problem and fix>`` (no traceback).
"""

import argparse
import dataclasses
import json
import os
import sys
import time

from . import extract, info, lmsplit, moses, sources, subword
from .errors import PrepError

OFFLINE_CORPORA = ("ci_deen", "deen_docs", "ci_lm", "en_lm")


def _fetch(a):
    resolved = sources.resolve(a.dataset, a.script, a.archive, a.archive_dir, a.cache,
                               a.sha256, a.timeout, offline=a.offline)
    with open(a.out_json, "w", encoding="utf-8") as f:
        json.dump([dataclasses.asdict(r) for r in resolved], f, indent=2)
    print(f"{len(resolved)} source file(s) ready")


def _load_sources(path):
    with open(path, encoding="utf-8") as f:
        return {r["name"]: r["path"] for r in json.load(f)}


def _corpus_sources(paths):
    return [{"name": os.path.basename(p), "path": os.path.abspath(p), "origin": "shipped corpus",
             "sha256": sources.file_digest(p, "sha256"),
             "verified": "SHA256SUMS.uncompressed" if p.endswith(".xz") else "shipped in the repo"}
            for p in paths]


def _extract(a):
    os.makedirs(a.out, exist_ok=True)
    if a.dataset == "iwslt14.de-en":
        counts = extract.iwslt14(_load_sources(a.sources)["de-en.tgz"], a.src, a.tgt, a.out)
    elif a.dataset == "wmt14.en-de":
        counts = extract.wmt14(_load_sources(a.sources), a.src, a.tgt, a.out)
    elif a.dataset == "wikitext-103":
        counts = extract.wikitext103(_load_sources(a.sources)["wikitext-103-v1.zip"], a.out)
    elif a.dataset == "ptb":
        files = _load_sources(a.sources)
        counts = extract.copy_lines({f"{s}.txt": files[f"ptb.{s}.txt"]
                                     for s in ("train", "valid", "test")}, a.out)
    elif a.dataset in OFFLINE_CORPORA:
        counts = _extract_offline(a)
    else:
        raise PrepError(f"no extraction recipe for '{a.dataset}'")
    print("extracted " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


def _extract_offline(a):
    """Shipped corpora -> a.out; records the files used in a.sources (JSON)."""
    corpora = a.corpora
    if a.dataset == "ci_deen":
        files = {f"{s}.{l}": os.path.join(corpora, "ci_deen", f"{s}.{l}")
                 for s in ("train", "valid", "test") for l in ("de", "en")}
        decompress = False
    elif a.dataset == "deen_docs":
        files = {f"{s}.{l}": os.path.join(corpora, "deen-debian-docs", f"{s}.{l}.xz")
                 for s in ("train", "valid", "test") for l in ("de", "en")}
        decompress = True
    elif a.dataset == "ci_lm":
        files = {f"{s}.txt": os.path.join(corpora, "ci_lm", f"wiki.{s}.tokens")
                 for s in ("train", "valid", "test")}
        decompress = False
    else:  # en_lm: decompressed whole; lm-split makes the splits
        names = sorted(n for n in os.listdir(os.path.join(corpora, "en-lm")) if n.endswith(".xz"))
        files = {n[: -len(".xz")]: os.path.join(corpora, "en-lm", n) for n in names}
        decompress = True
    missing = [p for p in files.values() if not os.path.isfile(p) or os.path.getsize(p) == 0]
    if missing or not files:
        raise PrepError(f"shipped corpus file(s) missing or empty: {', '.join(missing) or corpora}. "
                        "Restore them with: git checkout -- data-prep/corpora")
    counts = extract.copy_lines(files, a.out, decompress=decompress)
    if decompress:
        sums = os.path.join(os.path.dirname(next(iter(files.values()))), "SHA256SUMS.uncompressed")
        extract.verify_uncompressed(sums, a.out)
    with open(a.sources, "w", encoding="utf-8") as f:
        json.dump(_corpus_sources(list(files.values())), f, indent=2)
    return counts


def _pairs(files):
    if len(files) % 2:
        raise PrepError("expected INPUT OUTPUT pairs of files, got an odd number of paths")
    return list(zip(files[::2], files[1::2]))


def _tokenize(a):
    opts = moses.TokenizeOptions(lang=a.lang, method=a.method, escape=not a.no_escape,
                                 aggressive_dash=a.aggressive_dash, norm_punct=a.norm_punct,
                                 lowercase=a.lowercase)
    for src, dest in _pairs(a.files):
        t0 = time.time()
        n = moses.tokenize_file(src, dest, opts, workers=a.workers)
        print(f"tokenised {os.path.basename(src)} -> {dest}: {n} lines, {time.time() - t0:.1f} s")


def _clean(a):
    kept, read = moses.clean_parallel(a.in_prefix, a.out_prefix, a.src, a.tgt, a.ratio,
                                      a.min, a.max)
    print(f"clean: kept {kept} of {read} pairs (length {a.min}-{a.max}, ratio <= {a.ratio})")


def _split_every(a):
    keep, nth = moses.split_every(a.input, a.keep, a.nth, a.n)
    print(f"split {os.path.basename(a.input)}: {keep} lines kept, {nth} (every n-th, n={a.n}) -> {a.nth}")


def _bpe_learn(a):
    t0 = time.time()
    subword.learn(a.method, a.inputs, a.model, a.size)
    print(f"learned {a.method} model of size {a.size} -> {a.model} ({time.time() - t0:.1f} s)")


def _bpe_apply(a):
    for src, dest in _pairs(a.files):
        n = subword.apply(a.method, a.model, src, dest, workers=a.workers)
        print(f"segmented {os.path.basename(src)} -> {dest}: {n} lines")


def _lm_split(a):
    pairs = [tuple(s.split("=", 1)) for s in a.sources]
    stats = lmsplit.split_sources(pairs, a.out_prefix, a.valid_frac, a.test_frac, a.seed)
    with open(a.stats_json, "w", encoding="utf-8") as f:
        json.dump(stats, f, indent=2)
    for split, per_source in stats.items():
        docs = sum(s["documents"] for s in per_source.values())
        words = sum(s["words"] for s in per_source.values())
        print(f"{split}: {docs} documents, {words} words")


def _info(a):
    with open(a.sources, encoding="utf-8") as f:
        used = json.load(f)
    extra = {}
    for item in a.extra:
        key, _, value = item.partition("=")
        extra[key] = json.loads(value)
    for key, path in (kv.split("=", 1) for kv in a.extra_json):
        with open(path, encoding="utf-8") as f:
            extra[key] = json.load(f)
    result = info.write(
        a.out, dataset=a.dataset, task=a.task, langs=a.langs.split(","), tokenizer=a.tokenizer,
        lowercase=a.lowercase, bpe=a.bpe, bpe_size=a.bpe_size, bpe_model=a.bpe_model,
        text_dir=a.text_dir, bin_dir=a.bin_dir, sources=used, recipe=a.recipe, command=a.command,
        extra=extra)
    print(f"wrote {a.out}: lines {result['lines']}, vocabulary {result['vocabulary_size']}")


def build_parser():
    p = argparse.ArgumentParser(prog="python -m dataprep", description=__doc__)
    sub = p.add_subparsers(dest="step", required=True)

    s = sub.add_parser("fetch", help="find, download if needed, and verify a dataset's files")
    s.add_argument("--dataset", required=True)
    s.add_argument("--script", required=True, help="script name, for the error message")
    s.add_argument("--archive", action="append", default=[])
    s.add_argument("--archive-dir")
    s.add_argument("--cache", required=True)
    s.add_argument("--sha256", action="append", default=[])
    s.add_argument("--timeout", type=float, default=10.0)
    s.add_argument("--offline", action="store_true")
    s.add_argument("--out-json", required=True)
    s.set_defaults(fn=_fetch)

    s = sub.add_parser("extract", help="archive layout -> plain text files")
    s.add_argument("--dataset", required=True)
    s.add_argument("--sources", required=True, help="JSON from fetch (offline: written here)")
    s.add_argument("--out", required=True)
    s.add_argument("--src")
    s.add_argument("--tgt")
    s.add_argument("--corpora", help="directory of the shipped corpora")
    s.set_defaults(fn=_extract)

    s = sub.add_parser("tokenize", help="Moses tokenisation (sacremoses), one line in, one out")
    s.add_argument("--lang", required=True)
    s.add_argument("--method", choices=("moses", "none"), default="moses")
    s.add_argument("--no-escape", action="store_true")
    s.add_argument("--aggressive-dash", action="store_true")
    s.add_argument("--norm-punct", action="store_true")
    s.add_argument("--lowercase", action="store_true")
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("files", nargs="+", help="INPUT OUTPUT [INPUT OUTPUT ...]")
    s.set_defaults(fn=_tokenize)

    s = sub.add_parser("clean", help="clean-corpus-n: length limits and length ratio")
    s.add_argument("--in-prefix", required=True)
    s.add_argument("--out-prefix", required=True)
    s.add_argument("--src", required=True)
    s.add_argument("--tgt", required=True)
    s.add_argument("--ratio", type=float, default=1.5)
    s.add_argument("--min", type=int, default=1)
    s.add_argument("--max", type=int, default=175)
    s.set_defaults(fn=_clean)

    s = sub.add_parser("split-every", help="every n-th line to one file, the rest to another")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("input")
    s.add_argument("keep")
    s.add_argument("nth")
    s.set_defaults(fn=_split_every)

    s = sub.add_parser("bpe-learn", help="learn a joint subword model")
    s.add_argument("--method", default="subword_nmt")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--model", required=True)
    s.add_argument("inputs", nargs="+")
    s.set_defaults(fn=_bpe_learn)

    s = sub.add_parser("bpe-apply", help="apply a subword model")
    s.add_argument("--method", default="subword_nmt")
    s.add_argument("--model", required=True)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("files", nargs="+", help="INPUT OUTPUT [INPUT OUTPUT ...]")
    s.set_defaults(fn=_bpe_apply)

    s = sub.add_parser("lm-split", help="split WikiText-layout files by document")
    s.add_argument("--out-prefix", required=True)
    s.add_argument("--valid-frac", type=float, default=0.025)
    s.add_argument("--test-frac", type=float, default=0.025)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--stats-json", required=True)
    s.add_argument("sources", nargs="+", help="NAME=PATH")
    s.set_defaults(fn=_lm_split)

    s = sub.add_parser("info", help="write prep-info.json")
    s.add_argument("--out", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--task", required=True, choices=("translation", "language_modeling"))
    s.add_argument("--langs", required=True)
    s.add_argument("--tokenizer", required=True)
    s.add_argument("--lowercase", action="store_true")
    s.add_argument("--bpe", default="none")
    s.add_argument("--bpe-size", type=int)
    s.add_argument("--bpe-model")
    s.add_argument("--text-dir", required=True)
    s.add_argument("--bin-dir", required=True)
    s.add_argument("--sources", required=True)
    s.add_argument("--recipe", required=True)
    s.add_argument("--command", required=True)
    s.add_argument("--extra", action="append", default=[], help="KEY=JSON")
    s.add_argument("--extra-json", action="append", default=[], help="KEY=FILE.json")
    s.set_defaults(fn=_info)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except PrepError as e:
        print(f"ERROR: {e}", file=sys.stderr, flush=True)
        return 2
    return 0
