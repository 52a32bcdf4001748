"""``gpam prepare`` for the corpora shipped in data-prep/corpora/ (offline), the run-level
refusals (unwritable --data-root, a second preparation of one dataset), and the list of names."""

import lzma
import os
import shutil

import pytest

from gpam_tools.prepare import lmsplit, moses, shipped
from gpam_tools.prepare.errors import PrepError
from prep_fixtures import CORPORA, assert_contract, corpus, failed, lines, ok, run, unbpe
from standin_data import held_lock


def test_gpam_prepare_lists_every_name_and_refuses_an_unknown_one(tmp_path):
    listed = ok(run("--help", root=tmp_path / "root")).out
    for name in ("iwslt14.de-en", "wmt14.en-de", "wikitext-103", "ptb", "ci_deen", "deen_docs",
                 "ci_lm", "en_lm", "custom"):
        assert f"  {name} " in listed
    failed(run("nope", root=tmp_path / "root"), "unknown dataset 'nope'", "custom for your own corpus")
    assert not (tmp_path / "root").exists()


def test_unwritable_data_root_and_a_second_preparation_are_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    failed(run("ci_lm", root=blocker / "root"),
           r"cannot create directories under .*a-file/root: choose a writable --data-root")
    assert blocker.read_text() == "keep me\n"
    root = tmp_path / "root"
    (root / "tmp").mkdir(parents=True)
    with held_lock(root / "tmp" / ".lock-ci_lm"):  # a preparation of ci_lm still going
        failed(run("ci_lm", root=root), r"another preparation of ci_lm is running")
    assert not (root / "data-bin" / "ci_lm").exists() and not (root / "text" / "ci_lm").exists()



def test_offline_ci_deen(tmp_path):
    root = tmp_path / "root"
    ok(run("ci_deen", root=root))
    info = assert_contract(root, "ci_deen", "translation")
    assert info["lines"]["train"] == {"de": 2000, "en": 2000}
    assert info["lines"]["valid"] == {"de": 200, "en": 200}
    assert info["lines"]["test"] == {"de": 200, "en": 200}
    assert info["bpe_size"] == 2000 and info["vocabulary_size"]["de"] == info["vocabulary_size"]["en"]
    text = root / "text" / "ci_deen"
    assert lines(text / "test.raw.en") == [" ".join(s.split()).lower() for s in corpus("test.en")]
    opts = moses.TokenizeOptions(lang="de", lowercase=True)
    moses._init_worker(opts)
    assert [unbpe(l) for l in lines(text / "valid.de")] == \
        [moses._process_line(s) for s in corpus("valid.de")]
    assert (info["kind"], info["model_family"], info["full_model"]) == ("shipped", "translation", "iwslt")
    assert info["test_reference"] == {"file": "test.raw.{lang}", "lowercase": True, "tokenized": False}
    assert "nothing to do" in ok(run("ci_deen", root=root)).out


def test_offline_ci_lm(tmp_path):
    root = tmp_path / "root"
    ok(run("ci_lm", root=root))
    info = assert_contract(root, "ci_lm", "language_modeling")
    source = {s: lines(CORPORA / "ci_lm" / f"wiki.{s}.tokens") for s in ("train", "valid", "test")}
    for split in ("train", "valid", "test"):
        assert info["lines"][split] == len(source[split])
    assert info["bpe"] == "subword_nmt" and 2000 <= info["vocabulary_size"]["en"] <= 2600
    train = [unbpe(l) for l in lines(root / "text" / "ci_lm" / "train.txt")]
    assert any(" @-@ " in l for l in train) and not any("&apos;" in l for l in train)
    assert (info["model_family"], info["full_model"]) == ("language_modeling", "lm")
    assert "src" not in info and "test_reference" not in info


def test_xz_corpora_are_checked_and_en_lm_split_as_documented(tmp_path, monkeypatch):
    """deen_docs and en_lm (minutes to prepare in full): their copy, SHA256SUMS check and the
    en_lm document split, whose totals the README states (train 955 documents / 4,229,449 words,
    valid 29 / 127,665, test 31 / 128,416)."""
    used = shipped._copy_corpus("deen_docs", str(tmp_path / "docs"))
    assert sorted(s["name"] for s in used) == sorted(f"{s}.{l}.xz" for s in ("train", "valid", "test")
                                                   for l in ("de", "en"))
    assert len(lines(tmp_path / "docs" / "valid.de")) == len(lines(tmp_path / "docs" / "valid.en")) == 1981
    raw = tmp_path / "lm"
    shipped._copy_corpus("en_lm", str(raw))
    named = [(n[: -len(".txt")], str(raw / n)) for n in sorted(os.listdir(raw))]
    valid, test, seed = shipped.EN_LM_SPLIT
    stats = lmsplit.split_sources(named, str(tmp_path / "split."), valid, test, seed)
    totals = {split: (sum(s["documents"] for s in per.values()), sum(s["words"] for s in per.values()))
              for split, per in stats.items()}
    assert totals == {"train": (955, 4229449), "valid": (29, 127665), "test": (31, 128416)}
    # a damaged shipped file is caught by its SHA256SUMS.uncompressed
    damaged = tmp_path / "corpora" / "en-lm"
    shutil.copytree(CORPORA / "en-lm", damaged)
    with lzma.open(damaged / "mobydick.txt.xz", "wt", encoding="utf-8") as f:
        f.write("Call me Ishmael, twice.\n")
    monkeypatch.setattr(shipped, "CORPORA", str(tmp_path / "corpora"))
    with pytest.raises(PrepError, match="mobydick.txt does not match .*git checkout"):
        shipped._copy_corpus("en_lm", str(tmp_path / "again"))
