"""gpam unigram: the test perplexity of a unigram model, the floor any language model must beat.

    gpam unigram DATASET [--data-root DIR] [--split test] [--json OUT.json]

The model: p(w) = (count of w in the binarised training split + 1) / (N + V), add-one smoothing
over the V symbols of the dataset's dictionary (N training tokens). It is scored on the same token
stream fairseq-eval-lm scores (every token of the split, end-of-line markers included), so its
perplexity is per token of the binarised data, like the language model's beside it.
"""

import argparse
import math
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

from gpam_tools.atomic import write_json_atomic
from gpam_tools.run.datasets import DataError, data_bin_of, default_data_root, load
from gpam_tools.run.recipes import LANGUAGE_MODELING


def token_counts(data_bin: Path, split: str, vocabulary: int) -> np.ndarray:
    """How often each symbol of the dictionary occurs in ``split``: int64 array of shape (vocabulary,)."""
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(str(data_bin / split), None)
    if dataset is None:
        raise DataError(f"{data_bin} has no binarised {split} split; prepare the dataset again with --force")
    counts = np.zeros(vocabulary, dtype=np.int64)
    for i in range(len(dataset)):
        counts += np.bincount(dataset[i].numpy(), minlength=vocabulary)[:vocabulary]
    return counts


def unigram_perplexity(data_bin: Path, split: str = "test") -> dict:
    """Add-one unigram perplexity of ``split`` under the training split's counts, with its scale."""
    from fairseq.data import Dictionary

    load(data_bin, task=LANGUAGE_MODELING)
    vocabulary = len(Dictionary.load(str(data_bin / "dict.txt")))
    train = token_counts(data_bin, "train", vocabulary)
    test = token_counts(data_bin, split, vocabulary)
    log_p = np.log(train + 1.0) - math.log(train.sum() + vocabulary)
    return {"dataset": data_bin.name, "split": split, "perplexity": float(math.exp(-(test * log_p).sum() / test.sum())),
            "vocabulary": vocabulary, "train_tokens": int(train.sum()), "tokens": int(test.sum()),
            "model": "unigram, add-one smoothing over the dictionary"}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="gpam unigram", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="a prepared language-modelling dataset (its name under DATA_ROOT/data-bin)")
    p.add_argument("--data-root", default=str(default_data_root()),
                   help="where the data was prepared (default $DATA_ROOT, else <repo>/work)")
    p.add_argument("--split", default="test", choices=("valid", "test"), help="split to score (default test)")
    p.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = p.parse_args(argv)
    try:
        result = unigram_perplexity(data_bin_of(args.data_root, args.dataset), args.split)
    except DataError as err:
        print(f"gpam unigram: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        write_json_atomic(args.json, result)
    print(f"{result['dataset']} {result['split']} unigram perplexity {result['perplexity']:.2f} "
          f"({result['tokens']} tokens; add-one over {result['vocabulary']} symbols, "
          f"{result['train_tokens']} training tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
