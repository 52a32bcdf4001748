"""The datasets ``gpam prepare NAME`` knows how to build: the benchmarks and the shipped corpora.

This is the only list of dataset names in the pipeline, and only preparation reads it: a
prepared dataset describes itself in its prep-info.json (see ``info.py``), so training,
evaluation and studies work on any prepared dataset, including ``gpam prepare custom`` ones.
"""

from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Tuple

from . import benchmarks, shipped

TRANSLATION, LANGUAGE_MODELING = "translation", "language_modeling"


@dataclass(frozen=True)
class Recipe:
    """How one named dataset is built.

    kind:       "benchmark" (downloaded, or --archive) or "shipped" (data-prep/corpora/)
    langs:      source first for translation
    full_model: the full-size model recipe the field uses on it (gpam_tools/run/recipes.py names)
    accepts:    option groups besides the run options: "download", "bpe", "pair"
    bpe_size:   default --bpe-size (None: word-level, no subword model)
    """

    name: str
    kind: str
    task: str
    langs: Tuple[str, ...]
    full_model: str
    accepts: FrozenSet[str]
    bpe_size: Optional[int]
    build: Callable
    summary: str


def _recipe(name, kind, task, langs, full_model, accepts, bpe_size, build, summary) -> Recipe:
    return Recipe(name, kind, task, tuple(langs), full_model, frozenset(accepts), bpe_size,
                  build, summary)


CATALOGUE: Dict[str, Recipe] = {r.name: r for r in (
    _recipe("iwslt14.de-en", "benchmark", TRANSLATION, ("de", "en"), "iwslt",
            ("download", "bpe", "pair"), 10000, benchmarks.build_iwslt14,
            "IWSLT14 German-English (TED), fairseq's recipe, joint BPE 10k"),
    _recipe("wmt14.en-de", "benchmark", TRANSLATION, ("en", "de"), "base",
            ("download", "bpe", "pair"), 40000, benchmarks.build_wmt14,
            "WMT14 English-German, fairseq's recipe, joint BPE 40k"),
    _recipe("wikitext-103", "benchmark", LANGUAGE_MODELING, ("en",), "lm",
            ("download",), None, benchmarks.build_wikitext103,
            "WikiText-103 (v1, word-level, full vocabulary)"),
    _recipe("ptb", "benchmark", LANGUAGE_MODELING, ("en",), "lm15",
            ("download",), None, benchmarks.build_ptb,
            "Penn Treebank, Mikolov's language-modelling version (word-level, 10k)"),
    _recipe("ci_deen", "shipped", TRANSLATION, ("de", "en"), "iwslt",
            ("bpe", "pair"), 2000, shipped.build_translation,
            "2,000/200/200 German-English pairs shipped in the repo (tests, quick demo)"),
    _recipe("deen_docs", "shipped", TRANSLATION, ("de", "en"), "iwslt",
            ("bpe", "pair"), 8000, shipped.build_translation,
            "108k/2.0k/1.5k German-English pairs of Debian documentation, shipped"),
    _recipe("ci_lm", "shipped", LANGUAGE_MODELING, ("en",), "lm",
            ("bpe",), 2000, shipped.build_lm,
            "Wikipedia sample, 54k/4.9k/2.7k words, shipped (tests, quick demo)"),
    _recipe("en_lm", "shipped", LANGUAGE_MODELING, ("en",), "lm",
            ("bpe",), 8000, shipped.build_lm,
            "4.5M words of English running text, shipped, split here by document"),
)}


def how_to_prepare(dataset: str) -> str:
    """The command that prepares ``dataset`` (for messages of readers that find it missing)."""
    if dataset in CATALOGUE:
        return f"gpam prepare {dataset}"
    return f"gpam prepare custom --name {dataset} ..."  # your own corpus: see its --help
