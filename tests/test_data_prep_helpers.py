"""Unit tests of the data-preparation steps (gpam_tools/prepare), in-process and fast."""

import hashlib
from pathlib import Path

import pytest

from gpam_tools.prepare import lmsplit, moses, sources, subword, textio
from gpam_tools.prepare.errors import PrepError


def write(path: Path, lines) -> Path:
    path.write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    return path


def test_unicode_line_separators_do_not_break_alignment(tmp_path):
    # str.splitlines() and universal newlines would split these lines in two
    src = write(tmp_path / "a.de", ["eins\u2028zwei", "drei\rvier", "fünf\x1cSechs"])
    assert len(textio.read_lines(src)) == 3
    textio.write_lines(str(tmp_path / "b.de"), textio.read_lines(src))
    assert (tmp_path / "b.de").read_text(encoding="utf-8").splitlines() == \
        ["eins zwei", "drei vier", "fünf Sechs"]
    n = moses.tokenize_file(str(src), str(tmp_path / "c.de"), moses.TokenizeOptions(lang="de"))
    assert n == 3 and len((tmp_path / "c.de").read_text(encoding="utf-8").splitlines()) == 3


def test_clean_keeps_pairs_within_length_and_ratio(tmp_path):
    write(tmp_path / "in.de", ["a b c", "a", "a b c d", "", "w " * 9])
    write(tmp_path / "in.en", ["x y z", "x y z", "x y z", "x", "w " * 9])
    kept, read = moses.clean_parallel(str(tmp_path / "in"), str(tmp_path / "out"), "de", "en",
                                      ratio=1.5, min_len=1, max_len=8)
    # kept: 3/3 words; 4/3 = 1.33 <= 1.5. dropped: ratio 3, an empty side, 9 > 8 words
    assert (kept, read) == (2, 5)
    assert textio.read_lines(str(tmp_path / "out.de")) == ["a b c", "a b c d"]
    assert textio.read_lines(str(tmp_path / "out.en")) == ["x y z", "x y z"]


def test_clean_refuses_unaligned_corpus(tmp_path):
    write(tmp_path / "in.de", ["a", "b"])
    write(tmp_path / "in.en", ["a"])
    with pytest.raises(PrepError, match="not parallel"):
        moses.clean_parallel(str(tmp_path / "in"), str(tmp_path / "out"), "de", "en", 1.5, 1, 9)


def test_split_every_nth_line(tmp_path):
    write(tmp_path / "all", [str(i) for i in range(1, 50)])
    keep, nth = moses.split_every(str(tmp_path / "all"), str(tmp_path / "k"), str(tmp_path / "n"), 23)
    assert (keep, nth) == (47, 2)
    assert textio.read_lines(str(tmp_path / "n")) == ["23", "46"]
    assert "23" not in textio.read_lines(str(tmp_path / "k"))


def test_moses_options():
    moses._init_worker(moses.TokenizeOptions(lang="en", escape=False, aggressive_dash=True))
    assert moses._process_line("A well-known  \"test\" isn't it?") == \
        'A well @-@ known " test " isn \'t it ?'
    moses._init_worker(moses.TokenizeOptions(lang="en", lowercase=True))
    assert moses._process_line("It's OK") == "it &apos;s ok"


def _wiki(title, words):
    return [f" = {title} = ", "", " = = Part = = ", " ".join(["w"] * words), ""]


def test_lm_split_is_by_document_and_deterministic(tmp_path):
    docs = {f"D{i}": 10 + (i * 7) % 30 for i in range(40)}
    src = write(tmp_path / "src.txt", [l for t, n in docs.items() for l in _wiki(t, n)])
    stats = lmsplit.split_sources([("src", str(src))], str(tmp_path / "a."), 0.1, 0.1, seed=3)
    titles = {}
    for split in lmsplit.SPLITS:
        body = textio.read_lines(str(tmp_path / f"a.{split}.txt"))
        titles[split] = [l for l in body if l.startswith(" = ") and not l.startswith(" = = ")]
        assert stats[split]["src"]["documents"] == len(titles[split])
        # each document arrives whole: title, sub-heading, paragraph
        for title in titles[split]:
            i = body.index(title)
            assert body[i + 2] == " = = Part = = " and body[i + 3].startswith("w")
    assert sorted(sum(titles.values(), [])) == sorted(f" = {t} = " for t in docs)
    size = {t: n + 8 for t, n in docs.items()}  # headings count: "= Dn =" 3 words, "= = Part = =" 5
    total = sum(size.values())
    assert sum(stats[s]["src"]["words"] for s in lmsplit.SPLITS) == total
    for split in ("valid", "test"):  # filled document by document up to its share of the words
        words = stats[split]["src"]["words"]
        assert 0.1 * total <= words < 0.1 * total + max(size.values())
    lmsplit.split_sources([("src", str(src))], str(tmp_path / "b."), 0.1, 0.1, seed=3)
    for split in lmsplit.SPLITS:
        assert (tmp_path / f"a.{split}.txt").read_bytes() == (tmp_path / f"b.{split}.txt").read_bytes()


def test_bpe_round_trip(tmp_path):
    text = ["the quick brown fox jumps over the lazy dog"] * 20 + ["foxes jump quickly"] * 5
    train = write(tmp_path / "train", text)
    for method, size, undo in (("subword_nmt", 30, lambda l: (l + " ").replace("@@ ", "").strip()),
                               ("sentencepiece", 40,
                                lambda l: "".join(l.split()).replace("\u2581", " ").strip())):
        model = str(tmp_path / f"{method}.model")
        subword.learn(method, [str(train)], model, size)
        subword.apply(method, model, str(train), str(tmp_path / "out"))
        out = textio.read_lines(str(tmp_path / "out"))
        assert [undo(l) for l in out] == text
        assert any(len(l.split()) > len(t.split()) for l, t in zip(out, text))  # segmented


def test_checksum_pins_and_overrides(tmp_path):
    f = tmp_path / "ptb.valid.txt"
    f.write_bytes(b"some text\n")
    md5 = hashlib.md5(b"some text\n").hexdigest()
    sha = hashlib.sha256(b"some text\n").hexdigest()
    pinned = sources.Resource("ptb.valid.txt", ("https://example.org/ptb.valid.txt",),
                              (("md5", md5),), "a published list")
    assert sources.verify(pinned, str(f), None) == (sha, "pinned md5 (a published list)")
    wrong = sources.Resource("ptb.valid.txt", ("https://example.org/ptb.valid.txt",),
                             (("md5", "0" * 32),), "a published list")
    with pytest.raises(PrepError, match=f"expected md5 {'0' * 32}.*the file has {md5}.*"
                                        f"--sha256 ptb.valid.txt={sha}"):
        sources.verify(wrong, str(f), None)
    assert sources.verify(wrong, str(f), sha)[1] == "--sha256 given by the user"
    with pytest.raises(PrepError, match="--sha256 expects"):
        sources.verify(pinned, str(f), "f" * 64)
    unpinned = sources.Resource("x.tgz", ("https://example.org/x.tgz",), (), "none published")
    assert sources.verify(unpinned, str(f), None, allow_unverified=True)[1].startswith(
        "nothing: no published checksum")
    assert sources.verify(unpinned, str(f), sha)[1] == "--sha256 given by the user"


def test_unpinned_file_is_refused_unless_pinned_or_accepted(tmp_path):
    """Issue 16.3: no published checksum and no choice made -> refused, with the SHA-256."""
    f = tmp_path / "x.tgz"
    f.write_bytes(b"archive bytes")
    sha = hashlib.sha256(b"archive bytes").hexdigest()
    unpinned = sources.Resource("x.tgz", ("https://example.org/x.tgz",), (), "none published")
    with pytest.raises(sources.UnverifiedFile, match=f"Its SHA-256 is {sha}.*--sha256 x.tgz={sha}"
                                                     ".*--allow-unverified") as caught:
        sources.verify(unpinned, str(f), None)
    assert (caught.value.name, caught.value.sha256) == ("x.tgz", sha)
    assert f.read_bytes() == b"archive bytes"  # not deleted: the next run decides


def test_sha256_option_parsing():
    ptb = sources.RESOURCES["ptb"]
    assert sources.parse_sha_overrides(["ptb.test.txt=" + "A" * 64], ptb) == \
        {"ptb.test.txt": "a" * 64}
    with pytest.raises(PrepError, match="say which one"):
        sources.parse_sha_overrides(["a" * 64], ptb)
    with pytest.raises(PrepError, match="not one of this dataset's files"):
        sources.parse_sha_overrides(["ptb.dev.txt=" + "a" * 64], ptb)
    with pytest.raises(PrepError, match="64 hexadecimal digits"):
        sources.parse_sha_overrides(["abc"], sources.RESOURCES["wikitext-103"])


def test_every_benchmark_names_a_mirror_and_says_where_its_pins_come_from():
    for dataset, resources in sources.RESOURCES.items():
        for res in resources:
            assert res.urls and all(u.startswith("https://") for u in res.urls), res.name
            assert res.provenance, res.name
            for algorithm, digest in res.checksums:
                assert len(digest) == {"md5": 32, "sha256": 64}[algorithm]
