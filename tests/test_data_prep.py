"""data-prep/ scripts end to end, offline, on tiny fixture archives in each benchmark's layout.

Each fixture is built at test time from a few real sentences of the shipped corpora, packed the
way the published archive is (IWSLT14 de-en.tgz, the five WMT archives, wikitext-103-v1.zip,
PTB's simple-examples.tgz), and handed over with --archive / --archive-dir. Fixtures cannot
match the pinned checksums of the real archives, so the tests pin theirs with --sha256 (the
same verification path). Downloads are pointed at a closed local proxy port, so the
"no internet" path is exercised the same way on any machine.
"""

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_PREP = REPO / "data-prep"
CORPORA = DATA_PREP / "corpora"
sys.path.insert(0, str(DATA_PREP))

from dataprep import moses  # noqa: E402
from standin_data import held_lock  # noqa: E402

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused


# ---------------------------------------------------------------- running the scripts
def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHON"] = sys.executable
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[key] = DEAD_PROXY
    for key in ("no_proxy", "NO_PROXY", "DATA_ROOT"):
        env.pop(key, None)
    return env


def run(script: str, *args: str, root: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run data-prep/<script> with --data-root root; stdout and stderr merged in .out."""
    cmd = ["bash", str(DATA_PREP / script), *args, "--data-root", str(root), "--workers", "1"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=_env())
    proc.out = proc.stdout
    return proc


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.out[-3000:]
    return proc


def failed(proc: subprocess.CompletedProcess, *patterns: str) -> str:
    assert proc.returncode == 2, proc.out[-3000:]
    for pattern in patterns:
        assert re.search(pattern, proc.out), f"no /{pattern}/ in:\n{proc.out[-3000:]}"
    return proc.out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lines(path: Path) -> List[str]:
    """The lines of a text file, split on "\n" only (as the data-prep helpers do)."""
    content = path.read_text(encoding="utf-8").split("\n")
    return content[:-1] if content[-1] == "" else content


def snapshot(root: Path) -> Dict[str, tuple]:
    """Every file under text/ and data-bin/ with its content hash and mtime."""
    out = {}
    for sub in ("text", "data-bin"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = (sha256(p), p.stat().st_mtime_ns)
    return out


def assert_contract(root: Path, dataset: str, task: str) -> dict:
    """The data contract: published dirs, PREPARED, prep-info.json, no staging leftovers."""
    text, binary = root / "text" / dataset, root / "data-bin" / dataset
    assert (binary / "PREPARED").is_file() and (binary / "PREPARED").stat().st_size == 0
    info = json.loads((binary / "prep-info.json").read_text())
    assert info["dataset"] == dataset and info["task"] == task
    leftovers = [p.name for sub in ("text", "data-bin") for p in (root / sub).iterdir()
                 if p.name.startswith(".")] + [p.name for p in (root / "tmp").iterdir()
                                               if not p.name.startswith(".lock")]
    assert leftovers == [], leftovers
    if task == "language_modeling":
        for split in ("train", "valid", "test"):
            assert info["lines"][split] == len(lines(text / f"{split}.txt"))
            assert (binary / f"{split}.bin").is_file()
    else:
        src, tgt = info["langs"]
        for split in ("train", "valid", "test"):
            for lang in (src, tgt):
                assert info["lines"][split][lang] == len(lines(text / f"{split}.{lang}")) > 0
                assert (binary / f"{split}.{src}-{tgt}.{lang}.bin").is_file()
            assert info["lines"][split][src] == info["lines"][split][tgt]
        for lang in (src, tgt):
            assert len(lines(text / f"test.raw.{lang}")) == info["lines"]["test"][lang]
    assert (binary / "dict.txt").is_file() or (binary / f"dict.{info['langs'][0]}.txt").is_file()
    return info


def binarised_sizes(binary: Path, prefix: str, dict_name: str) -> int:
    """Number of sentences fairseq reads back from a binarised split."""
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(binary / dict_name))
    dataset = data_utils.load_indexed_dataset(str(binary / prefix), dictionary)
    return len(dataset)


def unbpe(line: str) -> str:
    return (line + " ").replace("@@ ", "").rstrip()


# ---------------------------------------------------------------- fixture archives
def corpus(name: str) -> List[str]:
    return lines(CORPORA / "ci_deen" / name)


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode("utf-8")
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _ted_tags(sentences: List[str], lang: str) -> str:
    """train.tags layout: per talk, metadata lines then one transcript sentence a line."""
    out = []
    for talk, start in enumerate(range(0, len(sentences), 60)):
        out += [f"<url>http://www.ted.com/talks/talk_{talk}.html</url>",
                "<keywords>talks, technology</keywords>", f"<talkid>{talk}</talkid>", f"<title>Talk {talk} ({lang})</title>",
                f"<description>TED Talk Subtitles and Transcript: talk {talk}</description>"]
        out += sentences[start:start + 60]
    return "\n".join(out) + "\n"


def _mteval(sentences: List[str], setid: str, lang: str) -> str:
    segs = "\n".join(f'<seg id="{i}"> {s} </seg>' for i, s in enumerate(sentences, 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<mteval>\n<srcset setid="{setid}" '
            f'srclang="{lang}">\n<doc docid="1" genre="lectures">\n<url>http://www.ted.com</url>\n'
            f"<title>Talk</title>\n{segs}\n</doc>\n</srcset>\n</mteval>\n")


IWSLT_TEST_SETS = ("TED.dev2010", "TEDX.dev2012", "TED.tst2010", "TED.tst2011", "TED.tst2012")


def make_iwslt14(path: Path, pair: str = "de-en", n_train: int = 240, n_test: int = 12) -> dict:
    de, en = corpus("train.de"), corpus("train.en")
    a, b = pair.split("-")
    side = {a: de, b: en}
    with tarfile.open(path, "w:gz") as tar:
        for lang in (a, b):
            _add(tar, f"{pair}/train.tags.{pair}.{lang}", _ted_tags(side[lang][:n_train], lang))
            for k, name in enumerate(IWSLT_TEST_SETS):
                start = n_train + k * n_test
                _add(tar, f"{pair}/IWSLT14.{name}.{pair}.{lang}.xml",
                     _mteval(side[lang][start:start + n_test], name, lang))
    test = {lang: [s for k in range(5) for s in
                   side[lang][n_train + k * n_test: n_train + (k + 1) * n_test]] for lang in (a, b)}
    return {"test": test, "n_train": n_train}


def _sgm(sentences: List[str], lang: str) -> str:
    segs = "\n".join(f'<seg id="{i}">{s}</seg>' for i, s in enumerate(sentences, 1))
    return f'<srcset setid="newstest" srclang="any">\n<doc sysid="ref" docid="1" genre="news" origlang="{lang}">\n{segs}\n</doc>\n</srcset>\n'


def make_wmt14(directory: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    de, en = corpus("train.de"), corpus("train.en")
    chunks = {"training-parallel-europarl-v7.tgz": ("training/europarl-v7.de-en.{}", 0, 100),
              "training-parallel-commoncrawl.tgz": ("commoncrawl.de-en.{}", 100, 180),
              "training-parallel-nc-v12.tgz": ("training/news-commentary-v12.de-en.{}", 180, 260)}
    for archive, (pattern, start, end) in chunks.items():
        with tarfile.open(directory / archive, "w:gz") as tar:
            _add(tar, pattern.format("de"), "\n".join(de[start:end]) + "\n")
            _add(tar, pattern.format("en"), "\n".join(en[start:end]) + "\n")
    valid = {"de": de[260:290], "en": en[260:290]}
    test = {"de": de[290:330], "en": en[290:330]}
    with tarfile.open(directory / "test.tgz", "w:gz") as tar:
        for lang in ("de", "en"):
            _add(tar, f"test/newstest2013-src.{lang}.sgm", _sgm(valid[lang], lang))
    with tarfile.open(directory / "test-full.tgz", "w:gz") as tar:
        _add(tar, "test-full/newstest2014-deen-src.en.sgm", _sgm(test["en"], "en"))
        _add(tar, "test-full/newstest2014-deen-ref.de.sgm", _sgm(test["de"], "de"))
        _add(tar, "test-full/newstest2014-deen-src.de.sgm", _sgm(test["de"], "de"))
    return {"valid": valid, "test": test, "train": 260}


def make_wikitext103(path: Path) -> Dict[str, List[str]]:
    text = {split: lines(CORPORA / "ci_lm" / f"wiki.{split}.tokens")[:40]
            for split in ("train", "valid", "test")}
    with zipfile.ZipFile(path, "w") as z:
        for split, content in text.items():
            z.writestr(f"wikitext-103/wiki.{split}.tokens", "\n".join(content) + "\n")
    return text


def _ptb_style(sentence: str) -> str:
    words = re.sub(r"[^a-z0-9' ]", " ", sentence.lower()).split()
    return " " + " ".join(words) + " "


def make_ptb(path: Path) -> Dict[str, List[str]]:
    en = corpus("train.en")
    text = {"train": [_ptb_style(s) for s in en[:150]],
            "valid": [_ptb_style(s) for s in en[150:170]],
            "test": [_ptb_style(s) for s in en[170:190]]}
    with tarfile.open(path, "w:gz") as tar:
        for split, content in text.items():
            _add(tar, f"./simple-examples/data/ptb.{split}.txt", "\n".join(content) + "\n")
        _add(tar, "./simple-examples/README", "fixture\n")
    return text


# ---------------------------------------------------------------- IWSLT14
@pytest.fixture(scope="module")
def iwslt(tmp_path_factory):
    """A prepared IWSLT14 fixture: (data root, archive, fixture facts, first run's output)."""
    base = tmp_path_factory.mktemp("iwslt")
    archive = base / "de-en.tgz"
    facts = make_iwslt14(archive)
    root = base / "root"
    proc = ok(run("prepare-iwslt14.sh", "--archive", str(archive), "--bpe-size", "400",
                  root=root))
    return root, archive, facts, proc.out


def test_iwslt14_fixture_follows_recipe_and_contract(iwslt):
    root, archive, facts, _ = iwslt
    info = assert_contract(root, "iwslt14.de-en", "translation")
    text, binary = root / "text" / "iwslt14.de-en", root / "data-bin" / "iwslt14.de-en"
    assert info["langs"] == ["de", "en"] and info["lowercase"] is True
    assert (info["bpe"], info["bpe_size"], info["remove_bpe"]) == ("subword_nmt", 400, "subword_nmt")
    assert info["sources"][0]["sha256"] == sha256(archive)
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
    proc = ok(run("prepare-iwslt14.sh", "--archive", str(archive), "--bpe-size", "400", root=root))
    assert "nothing to do" in proc.out
    assert snapshot(root) == before


def test_iwslt14_checksum_mismatch_refused_and_outputs_untouched(iwslt):
    root, archive, _, _ = iwslt
    before = snapshot(root)
    wrong = "0" * 64
    out = failed(run("prepare-iwslt14.sh", "--archive", str(archive), "--sha256", wrong,
                     "--force", root=root),
                 r"checksum mismatch for de-en\.tgz", wrong, sha256(archive), "Nothing was changed")
    assert "step: extract" not in out
    assert snapshot(root) == before


def test_iwslt14_sentencepiece_option(tmp_path):
    archive = tmp_path / "de-en.tgz"
    facts = make_iwslt14(archive, n_train=120, n_test=6)
    ok(run("prepare-iwslt14.sh", "--archive", str(archive), "--bpe", "sentencepiece",
           "--bpe-size", "300", root=tmp_path / "root"))
    info = assert_contract(tmp_path / "root", "iwslt14.de-en", "translation")
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
    cmd = ["bash", str(DATA_PREP / "prepare-iwslt14.sh"), "--archive", str(archive),
           "--bpe-size", "300", "--data-root", str(root), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(), start_new_session=True)
    try:  # kill the whole run (script, python steps, tees) once binarisation has started
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
    proc2 = ok(run("prepare-iwslt14.sh", "--archive", str(archive), "--bpe-size", "300",
                   root=root))
    assert "rebuilding from scratch" in proc2.out
    assert_contract(root, "iwslt14.de-en", "translation")
    assert (binary / "train.de-en.de.bin").read_bytes() != b"half"


# ---------------------------------------------------------------- bad input, no internet
@pytest.mark.parametrize("script,names", [
    ("prepare-iwslt14.sh", ["de-en.tgz"]),
    ("prepare-wmt14.sh", ["training-parallel-europarl-v7.tgz", "test-full.tgz"]),
    ("prepare-wikitext103.sh", ["wikitext-103-v1.zip"]),
    ("prepare-ptb.sh", ["ptb.train.txt"]),
])
def test_download_failure_says_what_and_how(tmp_path, script, names):
    proc = run(script, "--timeout", "5", root=tmp_path / "root", timeout=120)
    out = failed(proc, r"could not fetch", r"--archive", r"no internet access",
                 re.escape(str(tmp_path / "root" / "downloads")))
    for name in names:
        assert re.search(rf"https?://\S+/{re.escape(name)}", out), name
    assert not list((tmp_path / "root" / "data-bin").iterdir())
    assert not list((tmp_path / "root" / "text").iterdir())


def test_bad_input_messages(tmp_path):
    root = tmp_path / "root"
    failed(run("prepare.sh", "iwslt14", root=root), r"unknown dataset 'iwslt14'", "iwslt14.de-en")
    failed(run("prepare-offline.sh", "wiki", root=root), r"unknown offline dataset 'wiki'",
           "ci_lm")
    failed(run("prepare-iwslt14.sh", "--archive", str(tmp_path / "nope.tgz"), root=root),
           r"nope\.tgz does not exist")
    (tmp_path / "empty.tgz").write_bytes(b"")
    failed(run("prepare-iwslt14.sh", "--archive", str(tmp_path / "empty.tgz"), root=root),
           r"empty\.tgz is empty")
    (tmp_path / "junk.tgz").write_bytes(b"not a tar archive")
    failed(run("prepare-iwslt14.sh", "--archive", str(tmp_path / "junk.tgz"), root=root),
           r"cannot read .*junk\.tgz as a \(gzip\) tar archive")
    failed(run("prepare-iwslt14.sh", "--pair", "fr-en", root=root),
           r"--pair fr-en does not match iwslt14\.de-en, which is de-en")
    make_iwslt14(tmp_path / "fr-en.tgz", pair="fr-en", n_train=30, n_test=2)
    failed(run("prepare-iwslt14.sh", "--archive", str(tmp_path / "fr-en.tgz"), root=root),
           r"holds the language pair\(s\) fr-en, not de-en")
    failed(run("prepare-wmt14.sh", "--archive", str(tmp_path / "fr-en.tgz"), root=root),
           r"'fr-en\.tgz' is not a file this dataset uses")
    failed(run("prepare-wikitext103.sh", "--bpe", "sentencepiece", root=root),
           r"word-level; it takes no BPE options")
    failed(run("prepare-iwslt14.sh", "--bpe", "wordpiece", root=root),
           r"--bpe 'wordpiece' is not supported")
    failed(run("prepare-offline.sh", "ci_deen", "--archive", "x", root=root),
           r"built from files shipped in the repo")
    failed(run("prepare-ptb.sh", "--sha256", "ab" * 32, "--archive", str(tmp_path / "fr-en.tgz"),
               root=root), r"several files .* NAME=HEX")
    for sub in ("text", "data-bin"):
        assert not (root / sub).exists() or not list((root / sub).iterdir())


def test_unwritable_data_root_and_a_second_preparation_are_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    failed(run("prepare-offline.sh", "ci_lm", root=blocker / "root"),
           r"cannot create directories under .*a-file/root: choose a writable --data-root")
    assert blocker.read_text() == "keep me\n"
    root = tmp_path / "root"
    (root / "tmp").mkdir(parents=True)
    with held_lock(root / "tmp" / ".lock-ci_lm"):  # a preparation of ci_lm still going
        failed(run("prepare-offline.sh", "ci_lm", root=root), r"another preparation of ci_lm is running")
    assert not (root / "data-bin" / "ci_lm").exists() and not (root / "text" / "ci_lm").exists()


# ---------------------------------------------------------------- the other benchmarks
def test_wmt14_fixture(tmp_path):
    archives = tmp_path / "wmt"
    facts = make_wmt14(archives)
    root = tmp_path / "root"
    pins = [arg for n in ("test.tgz", "test-full.tgz") for arg in ("--sha256", f"{n}={sha256(archives / n)}")]
    # the fixture's test archives cannot match sacrebleu's published MD5s
    failed(run("prepare-wmt14.sh", "--archive-dir", str(archives), root=root),
           r"checksum mismatch for test\.tgz", r"expected md5 48eca5d02f637af44e85186847141f67")
    args = ["--archive-dir", str(archives), "--bpe-size", "300"]
    ok(run("prepare-wmt14.sh", *args, *pins, root=root))
    info = assert_contract(root, "wmt14.en-de", "translation")
    text = root / "text" / "wmt14.en-de"
    assert info["langs"] == ["en", "de"] and info["lowercase"] is False
    assert info["lines"]["test"] == {"en": 40, "de": 40}  # newstest2014: every sentence kept
    assert 0 < info["lines"]["valid"]["en"] <= 30 and 0 < info["lines"]["train"]["en"] <= 260
    assert lines(text / "test.raw.de") == [" ".join(s.split()) for s in facts["test"]["de"]]
    verified = {s["name"]: s["verified"] for s in info["sources"]}
    assert verified["test.tgz"].startswith("--sha256")
    assert verified["training-parallel-europarl-v7.tgz"].startswith("nothing: no published")


def test_wikitext103_fixture_and_pinned_checksum(tmp_path):
    archive = tmp_path / "wikitext-103-v1.zip"
    text = make_wikitext103(archive)
    root = tmp_path / "root"
    failed(run("prepare-wikitext103.sh", "--archive", str(archive), root=root),
           r"expected sha256 242ba0f20b329cfdf1ccc61e9e9e5b59becf189db7f7a81cd2a0e2fc31539590",
           r"--sha256 wikitext-103-v1\.zip=" + sha256(archive))
    assert not (root / "data-bin" / "wikitext-103").exists()
    # the documented place for a file fetched elsewhere: $DATA_ROOT/downloads/<dataset>/
    cache = root / "downloads" / "wikitext-103"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / archive.name).write_bytes(archive.read_bytes())
    proc = ok(run("prepare-wikitext103.sh", "--sha256", sha256(archive), root=root))
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
    failed(run("prepare-ptb.sh", "--archive", str(archive), root=root),
           r"checksum mismatch for ptb\.\w+\.txt", r"expected md5")
    pins = []
    for split in ("train", "valid", "test"):
        digest = hashlib.sha256(("\n".join(text[split]) + "\n").encode()).hexdigest()
        pins += ["--sha256", f"ptb.{split}.txt={digest}"]
    ok(run("prepare-ptb.sh", "--archive", str(archive), *pins, root=root))
    assert_contract(root, "ptb", "language_modeling")
    for split in ("train", "valid", "test"):
        assert lines(root / "text" / "ptb" / f"{split}.txt") == text[split]


# ---------------------------------------------------------------- shipped corpora
def test_offline_ci_deen(tmp_path):
    root = tmp_path / "root"
    ok(run("prepare-offline.sh", "ci_deen", root=root))
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
    assert "nothing to do" in ok(run("prepare-offline.sh", "ci_deen", root=root)).out


def test_offline_ci_lm(tmp_path):
    root = tmp_path / "root"
    ok(run("prepare-offline.sh", "ci_lm", root=root))
    info = assert_contract(root, "ci_lm", "language_modeling")
    source = {s: lines(CORPORA / "ci_lm" / f"wiki.{s}.tokens") for s in ("train", "valid", "test")}
    for split in ("train", "valid", "test"):
        assert info["lines"][split] == len(source[split])
    assert info["bpe"] == "subword_nmt" and 2000 <= info["vocabulary_size"]["en"] <= 2600
    train = [unbpe(l) for l in lines(root / "text" / "ci_lm" / "train.txt")]
    assert any(" @-@ " in l for l in train) and not any("&apos;" in l for l in train)
