"""``gpam prepare`` for the benchmarks, end to end and offline, on tiny fixture archives in each
benchmark's published layout (see prep_fixtures.py), including the download checksums
(issue 16.3: a file without a published checksum is refused unless pinned or accepted)."""

import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from gpam_tools.prepare import moses
from prep_fixtures import (assert_contract, binarised_sizes, failed, lines, make_iwslt14,
                           make_ptb, make_wikitext103, make_wmt14, ok, prep_env,
                           prepare_command, run, sha256, snapshot, unbpe)

# ---------------------------------------------------------------- IWSLT14
@pytest.fixture(scope="module")
def iwslt(tmp_path_factory):
    """A prepared IWSLT14 fixture: (data root, archive, fixture facts, first run's output)."""
    base = tmp_path_factory.mktemp("iwslt")
    archive = base / "de-en.tgz"
    facts = make_iwslt14(archive)
    root = base / "root"
    proc = ok(run("iwslt14.de-en", "--archive", str(archive), "--bpe-size", "400",
                  "--allow-unverified", root=root))
    return root, archive, facts, proc.out


def test_iwslt14_fixture_follows_recipe_and_contract(iwslt):
    root, archive, facts, _ = iwslt
    info = assert_contract(root, "iwslt14.de-en", "translation")
    text, binary = root / "text" / "iwslt14.de-en", root / "data-bin" / "iwslt14.de-en"
    assert info["langs"] == ["de", "en"] and info["lowercase"] is True
    assert (info["bpe"], info["bpe_size"], info["remove_bpe"]) == ("subword_nmt", 400, "subword_nmt")
    assert info["sources"][0]["sha256"] == sha256(archive)
    assert info["allow_unverified"] is True and info["unverified"] == ["de-en.tgz"]
    assert info["src"] == "de" and info["tgt"] == "en" and info["kind"] == "benchmark"
    # test = dev2010 + dev2012 + tst2010-2012 in that order, with the recipe's ’ -> ' in the
    # test sets; raw references lowercased, untokenised
    for lang in ("de", "en"):
        test = [s.replace("\u2019", "'") for s in facts["test"][lang]]
        assert lines(text / f"test.raw.{lang}") == [" ".join(s.split()).lower() for s in test]
        tokenised = [unbpe(l) for l in lines(text / f"test.{lang}")]
        moses._init_worker(moses.TokenizeOptions(lang=lang, lowercase=True))
        assert tokenised == [moses._process_line(s) for s in test]
    # url/keywords/talkid lines are gone, title/description text stays (as in fairseq's recipe)
    train = [unbpe(l) for l in lines(text / "train.en") + lines(text / "valid.en")]
    assert not any("&lt;" in l or "http" in l or "technology" in l for l in train)
    assert sum(l.startswith("ted talk subtitles and transcript") for l in train) == 4
    # valid = every 23rd line of the cleaned training text, train the rest
    n_train, n_valid = info["lines"]["train"]["en"], info["lines"]["valid"]["en"]
    assert n_valid == (n_train + n_valid) // 23 and n_train + n_valid <= facts["n_train"] + 8
    # fairseq reads back every sentence with the joined dictionary
    assert (binary / "dict.de.txt").read_text() == (binary / "dict.en.txt").read_text()
    for split in ("train", "valid", "test"):
        assert binarised_sizes(binary, f"{split}.de-en.en", "dict.en.txt") == \
            info["lines"][split]["en"]
    assert (binary / "bpe.codes").is_file() and (binary / "prepare.log").is_file()


def test_iwslt14_rerun_does_nothing(iwslt):
    root, archive, _, _ = iwslt
    before = snapshot(root)
    proc = ok(run("iwslt14.de-en", "--archive", str(archive), "--bpe-size", "400", root=root))
    assert "nothing to do" in proc.out
    assert snapshot(root) == before


def test_iwslt14_checksum_mismatch_refused_and_outputs_untouched(iwslt):
    root, archive, _, _ = iwslt
    before = snapshot(root)
    wrong = "0" * 64
    out = failed(run("iwslt14.de-en", "--archive", str(archive), "--sha256", wrong,
                     "--force", root=root),
                 r"checksum mismatch for de-en\.tgz", wrong, sha256(archive), "Nothing was changed")
    assert "step: extract" not in out
    assert snapshot(root) == before


def test_iwslt14_unpinned_archive_refused_by_default(iwslt):
    """de-en.tgz has no published checksum: refused, with its SHA-256 and both ways out."""
    root, archive, _, _ = iwslt
    before = snapshot(root)
    digest = sha256(archive)
    out = failed(run("iwslt14.de-en", "--archive", str(archive), "--force", root=root),
                 r"de-en\.tgz .* cannot be verified", f"Its SHA-256 is {digest}",
                 re.escape(f"--sha256 de-en.tgz={digest}"), "--allow-unverified",
                 "recorded in prep-info.json", "Nothing was changed")
    assert "step: extract" not in out
    assert snapshot(root) == before


def test_iwslt14_sentencepiece_option(tmp_path):
    archive = tmp_path / "de-en.tgz"
    facts = make_iwslt14(archive, n_train=120, n_test=6)
    ok(run("iwslt14.de-en", "--archive", str(archive), "--bpe", "sentencepiece",
           "--bpe-size", "300", "--sha256", f"de-en.tgz={sha256(archive)}", root=tmp_path / "root"))
    info = assert_contract(tmp_path / "root", "iwslt14.de-en", "translation")
    assert info["sources"][0]["verified"] == "--sha256 given by the user"
    assert info["allow_unverified"] is False and info["unverified"] == []
    assert (info["bpe"], info["remove_bpe"], info["tokenizer"]) == \
        ("sentencepiece", "sentencepiece", "none")
    text = tmp_path / "root" / "text" / "iwslt14.de-en"
    decoded = ["".join(l.split()).replace("\u2581", " ").strip() for l in lines(text / "test.en")]
    test = [s.replace("\u2019", "'") for s in facts["test"]["en"]]
    assert decoded == [" ".join(s.split()).lower() for s in test]


def test_iwslt14_interrupted_run_is_rebuilt(tmp_path):
    archive = tmp_path / "de-en.tgz"
    make_iwslt14(archive, n_train=120, n_test=6)
    root = tmp_path / "root"
    log = root / "logs" / "prepare-iwslt14.de-en.log"
    cmd = prepare_command("iwslt14.de-en", "--archive", str(archive), "--bpe-size", "300",
                          "--allow-unverified", root=root)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=prep_env(), start_new_session=True)
    try:  # kill the whole run (gpam prepare and fairseq-preprocess) once binarisation has started
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if log.exists() and "step: fairseq-preprocess" in log.read_text():
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    binary = root / "data-bin" / "iwslt14.de-en"
    assert not (binary / "PREPARED").exists() and not (root / "text" / "iwslt14.de-en").exists()
    staged = [p.name for p in (root / "data-bin").iterdir()]
    assert any(name.startswith(".iwslt14.de-en.tmp.") for name in staged), staged
    # an incomplete published directory (say, copied by hand) must not count as prepared either
    binary.mkdir(parents=True)
    (binary / "train.de-en.de.bin").write_bytes(b"half")
    proc2 = ok(run("iwslt14.de-en", "--archive", str(archive), "--bpe-size", "300",
                   "--allow-unverified", root=root))
    assert "rebuilding from scratch" in proc2.out
    assert_contract(root, "iwslt14.de-en", "translation")
    assert (binary / "train.de-en.de.bin").read_bytes() != b"half"


# ---------------------------------------------------------------- bad input, no internet
@pytest.mark.parametrize("dataset,names", [
    ("iwslt14.de-en", ["de-en.tgz"]),
    ("wmt14.en-de", ["training-parallel-europarl-v7.tgz", "test-full.tgz"]),
    ("wikitext-103", ["wikitext-103-v1.zip"]),
    ("ptb", ["ptb.train.txt"]),
])
def test_download_failure_says_what_and_how(tmp_path, dataset, names):
    proc = run(dataset, "--timeout", "5", root=tmp_path / "root", timeout=120)
    out = failed(proc, r"could not fetch", r"--archive", r"no internet access",
                 re.escape(str(tmp_path / "root" / "downloads")),
                 re.escape(f"gpam prepare {dataset} --archive"))
    for name in names:
        assert re.search(rf"https?://\S+/{re.escape(name)}", out), name
    if dataset in ("iwslt14.de-en", "wmt14.en-de"):  # files without a published checksum
        assert "no published checksum; add --sha256 NAME=HEX" in out
    assert not list((tmp_path / "root" / "data-bin").iterdir())
    assert not list((tmp_path / "root" / "text").iterdir())


def test_bad_input_messages(tmp_path):
    root = tmp_path / "root"
    failed(run("iwslt14", root=root), r"unknown dataset 'iwslt14'", "iwslt14.de-en")
    failed(run("wiki", root=root), r"unknown dataset 'wiki'", "ci_lm")
    failed(run("iwslt14.de-en", "--archive", str(tmp_path / "nope.tgz"), root=root),
           r"nope\.tgz does not exist")
    (tmp_path / "empty.tgz").write_bytes(b"")
    failed(run("iwslt14.de-en", "--archive", str(tmp_path / "empty.tgz"), root=root),
           r"empty\.tgz is empty")
    (tmp_path / "junk.tgz").write_bytes(b"not a tar archive")
    failed(run("iwslt14.de-en", "--archive", str(tmp_path / "junk.tgz"), "--allow-unverified",
               root=root), r"cannot read .*junk\.tgz as a \(gzip\) tar archive")
    failed(run("iwslt14.de-en", "--pair", "fr-en", root=root),
           r"--pair fr-en does not match iwslt14\.de-en, which is de-en")
    make_iwslt14(tmp_path / "fr-en.tgz", pair="fr-en", n_train=30, n_test=2)
    failed(run("iwslt14.de-en", "--archive", str(tmp_path / "fr-en.tgz"), "--allow-unverified",
               root=root), r"holds the language pair\(s\) fr-en, not de-en")
    failed(run("wmt14.en-de", "--archive", str(tmp_path / "fr-en.tgz"), root=root),
           r"'fr-en\.tgz' is not a file this dataset uses")
    failed(run("wikitext-103", "--bpe", "sentencepiece", root=root),
           r"word-level; it takes no BPE options")
    failed(run("iwslt14.de-en", "--bpe", "wordpiece", root=root),
           r"--bpe 'wordpiece' is not supported")
    failed(run("ci_deen", "--archive", "x", root=root), r"built from files shipped in the repo")
    failed(run("ci_lm", "--pair", "de-en", root=root), r"ci_lm is a language-modelling corpus")
    # issue 18: a shipped translation corpus is not called a language-modelling one
    failed(run("ci_deen", "--pair", "es-en", root=root),
           r"--pair es-en does not match ci_deen, which is de-en", "gpam prepare custom")
    failed(run("ptb", "--sha256", "ab" * 32, "--archive", str(tmp_path / "fr-en.tgz"),
               root=root), r"several files .* NAME=HEX")
    for sub in ("text", "data-bin"):
        assert not (root / sub).exists() or not list((root / sub).iterdir())


# ---------------------------------------------------------------- the other benchmarks
def test_wmt14_fixture(tmp_path):
    archives = tmp_path / "wmt"
    facts = make_wmt14(archives)
    root = tmp_path / "root"
    pins = [arg for n in ("test.tgz", "test-full.tgz") for arg in ("--sha256", f"{n}={sha256(archives / n)}")]
    # the fixture's test archives cannot match sacrebleu's published MD5s
    failed(run("wmt14.en-de", "--archive-dir", str(archives), root=root),
           r"checksum mismatch for test\.tgz", r"expected md5 48eca5d02f637af44e85186847141f67")
    args = ["--archive-dir", str(archives), "--bpe-size", "300"]
    # the training archives have no published checksum: all three named, with their SHA-256
    training = ("training-parallel-europarl-v7.tgz", "training-parallel-commoncrawl.tgz",
                "training-parallel-nc-v12.tgz")
    out = failed(run("wmt14.en-de", *args, *pins, root=root), "3 files of wmt14.en-de have no "
                 "published checksum", "--allow-unverified", "Nothing was changed",
                 *(re.escape(f"--sha256 {n}={sha256(archives / n)}") for n in training))
    assert "step: extract" not in out and not (root / "data-bin" / "wmt14.en-de").exists()
    ok(run("wmt14.en-de", *args, *pins, "--allow-unverified", root=root))
    info = assert_contract(root, "wmt14.en-de", "translation")
    text = root / "text" / "wmt14.en-de"
    assert info["langs"] == ["en", "de"] and info["lowercase"] is False
    assert info["lines"]["test"] == {"en": 40, "de": 40}  # newstest2014: every sentence kept
    assert 0 < info["lines"]["valid"]["en"] <= 30 and 0 < info["lines"]["train"]["en"] <= 260
    assert lines(text / "test.raw.de") == [" ".join(s.split()) for s in facts["test"]["de"]]
    verified = {s["name"]: s["verified"] for s in info["sources"]}
    assert verified["test.tgz"].startswith("--sha256")
    assert verified["training-parallel-europarl-v7.tgz"].startswith("nothing: no published")
    assert verified["training-parallel-europarl-v7.tgz"].endswith("accepted with --allow-unverified")
    assert sorted(info["unverified"]) == sorted(training) and info["allow_unverified"] is True


def test_wikitext103_fixture_and_pinned_checksum(tmp_path):
    archive = tmp_path / "wikitext-103-v1.zip"
    text = make_wikitext103(archive)
    root = tmp_path / "root"
    failed(run("wikitext-103", "--archive", str(archive), root=root),
           r"expected sha256 242ba0f20b329cfdf1ccc61e9e9e5b59becf189db7f7a81cd2a0e2fc31539590",
           r"--sha256 wikitext-103-v1\.zip=" + sha256(archive))
    assert not (root / "data-bin" / "wikitext-103").exists()
    # the documented place for a file fetched elsewhere: $DATA_ROOT/downloads/<dataset>/
    cache = root / "downloads" / "wikitext-103"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / archive.name).write_bytes(archive.read_bytes())
    proc = ok(run("wikitext-103", "--sha256", sha256(archive), root=root))
    assert "wikitext-103-v1.zip (cache)" in proc.out
    info = assert_contract(root, "wikitext-103", "language_modeling")
    for split in ("train", "valid", "test"):  # the authors' tokens are kept as they are
        assert lines(root / "text" / "wikitext-103" / f"{split}.txt") == text[split]
    binary = root / "data-bin" / "wikitext-103"
    assert binarised_sizes(binary, "test", "dict.txt") == len(text["test"])
    assert info["bpe"] == "none" and info["vocabulary_size"]["en"] > 100


def test_ptb_fixture_from_simple_examples(tmp_path):
    archive = tmp_path / "simple-examples.tgz"
    text = make_ptb(archive)
    root = tmp_path / "root"
    failed(run("ptb", "--archive", str(archive), root=root),
           r"checksum mismatch for ptb\.\w+\.txt", r"expected md5")
    pins = []
    for split in ("train", "valid", "test"):
        digest = hashlib.sha256(("\n".join(text[split]) + "\n").encode()).hexdigest()
        pins += ["--sha256", f"ptb.{split}.txt={digest}"]
    ok(run("ptb", "--archive", str(archive), *pins, root=root))
    assert_contract(root, "ptb", "language_modeling")
    for split in ("train", "valid", "test"):
        assert lines(root / "text" / "ptb" / f"{split}.txt") == text[split]
