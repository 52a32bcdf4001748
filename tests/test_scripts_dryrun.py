"""Dry runs of the paper's full-size configurations: ``gpam train --dry-run`` (the full-size model and
flags, 3 updates on small batches, nothing saved) of the baseline and daGPAM on a fixture in each
benchmark's binarised format. Proves that the recipes and flags fit together before a GPU run; it
measures nothing.

By default only the cheapest, the paper's IWSLT configuration (transformer_iwslt_de_en pre-LN),
runs. Before a GPU run, all six (IWSLT post-/pre-LN, WMT base and big, transformer_lm and the
8-layer LM) run with::

    GPAM_FULLSIZE_DRY_RUNS=all pytest tests/test_scripts_dryrun.py
"""

import os
import re

import pytest

from standin_data import prepare, run_gpam

# name -> (fixture dataset, gpam train options)
SETTINGS = {
    "iwslt-post": ("iwslt14.de-en", ["--model", "iwslt", "--ln", "post"]),
    "iwslt-pre": ("iwslt14.de-en", ["--model", "iwslt", "--ln", "pre"]),
    "wmt-base": ("wmt14.en-de", ["--model", "base"]),
    "wmt-big": ("wmt14.en-de", ["--model", "big"]),
    "lm": ("wikitext-103", ["--model", "lm"]),
    "lm8": ("wikitext-103", ["--model", "lm8"]),
}
SELECTED = list(SETTINGS) if os.environ.get("GPAM_FULLSIZE_DRY_RUNS") == "all" else ["iwslt-pre"]
D_HEAD = {"iwslt-pre": 512 // 4, "iwslt-post": 512 // 4}   # transformer_iwslt_de_en: d=512, 4 heads
MODULES = 6 + 6 + 6        # encoder self, decoder self, encoder-decoder attention in 6+6 layers


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("dryrun-data")


@pytest.mark.parametrize("name", SELECTED)
def test_full_size_dry_run(name, data_root, tmp_path):
    dataset, options = SETTINGS[name]
    if not (data_root / "data-bin" / dataset / "PREPARED").exists():
        prepare(dataset, data_root, vocab=1000, limit=400)
    params = {}
    for attention in ("softmax", "dagpam"):
        proc = run_gpam("train", dataset, *options, "--attention", attention, "--dry-run",
                        "--data-root", data_root, "--save-root", tmp_path / "runs", timeout=900)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-3000:]
        assert '"train_num_updates": "3"' in log, log[-3000:]
        params[attention] = int(re.search(r"num\. shared model params: ([\d,]+)", log).group(1).replace(",", ""))
        if name.endswith("-pre"):
            assert "encoder_normalize_before=True" in log or "'encoder_normalize_before': True" in log
    if name in D_HEAD:
        assert params["softmax"] > 30_000_000  # the full-size model, not a scaled-down one
        # daGPAM adds exactly one d_head x d_head matrix W- per attention module (shared by its heads)
        assert params["dagpam"] - params["softmax"] == MODULES * D_HEAD[name] ** 2
    # a dry run writes no checkpoint
    assert not list(tmp_path.rglob("*.pt"))
