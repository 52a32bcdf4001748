"""Read each benchmark's archive layout into plain, untokenised text files.

Output files (in ``out``): translation ``{train,valid,test}.<lang>`` (IWSLT14 has no valid yet:
the recipe takes it from train after cleaning), language modelling ``{train,valid,test}.txt``.
Layouts follow the published archives:

    iwslt14  de-en.tgz: de-en/train.tags.de-en.{de,en} (TED transcripts with metadata tags),
             de-en/IWSLT14.TED{,X}.<set>.de-en.{de,en}.xml (<seg id="N">...</seg> lines)
    wmt14    training/europarl-v7.de-en.*, commoncrawl.de-en.*, training/news-commentary-v12.de-en.*,
             test/newstest2013-src.*.sgm (WMT13 test.tgz), test-full/newstest2014-deen-*.sgm
    wikitext wikitext-103/wiki.{train,valid,test}.tokens in wikitext-103-v1.zip
    ptb      ptb.{train,valid,test}.txt
"""

import lzma
import os
import re
import tarfile
import zipfile
from typing import Dict, Iterable

from .errors import PrepError
from .textio import write_lines

# The 2014 test set of fairseq's recipe, in its order: dev2010 + dev2012 (TEDx) + tst2010-2012.
IWSLT14_TEST_SETS = ("TED.dev2010", "TEDX.dev2012", "TED.tst2010", "TED.tst2011", "TED.tst2012")
# Metadata lines dropped from train.tags: exactly the recipe's filter, so that the data matches
# the field's (title and description lines lose their tags but stay, as in the recipe).
_IWSLT_DROP = ("<url>", "<talkid>", "<keywords>")
_IWSLT_STRIP = re.compile(r"</?(?:title|description)>")
_SEG = re.compile(r"<seg[^>]*>\s*(.*?)\s*</seg>")


class _Tar:
    """A tar archive whose members are looked up by name, with or without a leading './'."""

    def __init__(self, path: str, what: str):
        self.path = path
        try:
            self.tar = tarfile.open(path)
            self.members = {m.name[2:] if m.name.startswith("./") else m.name: m
                            for m in self.tar.getmembers() if m.isfile()}
        except (tarfile.TarError, OSError, EOFError) as e:
            raise PrepError(f"cannot read {path} as a (gzip) tar archive ({e}): it is not the "
                            f"{what} archive, or it is truncated: fetch it again")

    def has(self, name: str) -> bool:
        return name in self.members

    def lines(self, name: str, what: str) -> Iterable[str]:
        if name not in self.members:
            raise PrepError(f"{self.path} has no member {name}: it is not the {what} archive "
                            "this recipe expects (keep the archive as published)")
        f = self.tar.extractfile(self.members[name])
        for raw in f:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _write(path: str, lines: Iterable[str]) -> int:
    return write_lines(path, lines)


def _check_parallel(counts: Dict[str, int], what: str) -> None:
    if len(set(counts.values())) != 1:
        raise PrepError(f"{what}: the two sides have different line counts "
                        f"({', '.join(f'{k} {v}' for k, v in counts.items())}); "
                        "the archive is damaged or not a parallel corpus")
    if not any(counts.values()):
        raise PrepError(f"{what}: no text found; the archive is empty or of another layout")


def _segs(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        if "<seg" in line:
            m = _SEG.search(line)
            if m:
                yield m.group(1)


def iwslt14(archive: str, src: str, tgt: str, out: str) -> Dict[str, int]:
    """de-en.tgz -> out/train.{de,en} (tags removed), out/test.{de,en}; returns line counts."""
    pair = "de-en"
    tar = _Tar(archive, "IWSLT14 de-en.tgz")
    if not tar.has(f"{pair}/train.tags.{pair}.de"):
        found = sorted({m.split("/")[0] for m in tar.members if "/train.tags." in m})
        if found:
            raise PrepError(f"{archive} holds the language pair(s) {', '.join(found)}, not de-en: "
                            "this recipe prepares IWSLT14 German-English; pass de-en.tgz")
        raise PrepError(f"{archive} has no {pair}/train.tags.{pair}.de: it is not IWSLT14's "
                        "de-en.tgz (expected layout de-en/train.tags.de-en.{de,en} and "
                        "de-en/IWSLT14.TED*.xml)")
    counts = {}
    for lang in (src, tgt):
        def train_lines(lang=lang):
            for line in tar.lines(f"{pair}/train.tags.{pair}.{lang}", "IWSLT14 de-en.tgz"):
                if any(tag in line for tag in _IWSLT_DROP):
                    continue
                yield _IWSLT_STRIP.sub("", line)
        counts[f"train.{lang}"] = _write(os.path.join(out, f"train.{lang}"), train_lines())

        def test_lines(lang=lang):
            for name in IWSLT14_TEST_SETS:
                member = f"{pair}/IWSLT14.{name}.{pair}.{lang}.xml"
                for seg in _segs(tar.lines(member, "IWSLT14 de-en.tgz")):
                    yield seg.replace("\u2019", "'")
        counts[f"test.{lang}"] = _write(os.path.join(out, f"test.{lang}"), test_lines())
    _check_parallel({k: v for k, v in counts.items() if k.startswith("train")}, archive)
    _check_parallel({k: v for k, v in counts.items() if k.startswith("test")}, archive)
    return counts


WMT14_TRAIN = (  # (archive, member pattern with {lang})
    ("training-parallel-europarl-v7.tgz", "training/europarl-v7.de-en.{lang}"),
    ("training-parallel-commoncrawl.tgz", "commoncrawl.de-en.{lang}"),
    ("training-parallel-nc-v12.tgz", "training/news-commentary-v12.de-en.{lang}"),
)


def wmt14(files: Dict[str, str], src: str, tgt: str, out: str) -> Dict[str, int]:
    """The five WMT archives -> out/{train,valid,test}.{en,de}; returns line counts."""
    counts = {}
    tars = {name: _Tar(path, name) for name, path in files.items()}
    for lang in (src, tgt):
        def train_lines(lang=lang):
            for archive, pattern in WMT14_TRAIN:
                yield from tars[archive].lines(pattern.format(lang=lang), archive)
        counts[f"train.{lang}"] = _write(os.path.join(out, f"train.{lang}"), train_lines())
        counts[f"valid.{lang}"] = _write(
            os.path.join(out, f"valid.{lang}"),
            _segs(tars["test.tgz"].lines(f"test/newstest2013-src.{lang}.sgm", "WMT13 test.tgz")))
        side = "src" if lang == "en" else "ref"  # newstest2014 en-de: English source, German ref
        counts[f"test.{lang}"] = _write(
            os.path.join(out, f"test.{lang}"),
            _segs(tars["test-full.tgz"].lines(f"test-full/newstest2014-deen-{side}.{lang}.sgm",
                                              "WMT14 test-full.tgz")))
    for split in ("train", "valid", "test"):
        _check_parallel({k: v for k, v in counts.items() if k.startswith(split)}, f"wmt14 {split}")
    return counts


def wikitext103(archive: str, out: str) -> Dict[str, int]:
    """wikitext-103-v1.zip -> out/{train,valid,test}.txt (already tokenised by its authors)."""
    try:
        z = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise PrepError(f"cannot read {archive} as a zip archive ({e}): it is not "
                        "wikitext-103-v1.zip, or it is truncated: fetch it again")
    names = set(z.namelist())
    counts = {}
    for split in ("train", "valid", "test"):
        member = f"wikitext-103/wiki.{split}.tokens"
        if member not in names:
            hint = (" It is the raw (untokenised) variant; this recipe uses wikitext-103-v1.zip."
                    if any(n.startswith("wikitext-103-raw/") for n in names) else "")
            raise PrepError(f"{archive} has no {member}: expected the layout of "
                            f"wikitext-103-v1.zip (wikitext-103/wiki.*.tokens).{hint}")
        with z.open(member) as f:
            counts[f"{split}.txt"] = _write(
                os.path.join(out, f"{split}.txt"),
                (raw.decode("utf-8").rstrip("\r\n") for raw in f))
    return counts


def copy_lines(pairs: Dict[str, str], out: str, decompress: bool = False) -> Dict[str, int]:
    """{output name: input path} -> out/<name>, normalising line ends; xz inputs if decompress."""
    counts = {}
    for name, path in pairs.items():
        opener = lzma.open if decompress else open
        with opener(path, "rt", encoding="utf-8", newline="\n") as f:
            counts[name] = _write(os.path.join(out, name), (l.rstrip("\n") for l in f))
    return counts


def verify_uncompressed(sums_file: str, directory: str) -> None:
    """Check the decompressed files in ``directory`` against a ``SHA256SUMS`` style list."""
    from .sources import file_digest

    with open(sums_file, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            expected, name = line.split()
            path = os.path.join(directory, name)
            if os.path.exists(path) and file_digest(path, "sha256") != expected:
                raise PrepError(f"{name} does not match {sums_file}: the shipped corpus is "
                                "damaged; restore it with git checkout data-prep/corpora")
