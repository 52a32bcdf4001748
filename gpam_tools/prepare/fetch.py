"""Find, fetch and verify the files a benchmark needs (the table is in ``sources.py``).

Each resource is looked for, in this order:

1. a file handed over with ``--archive FILE`` whose name is the resource's name (with a single
   resource, any name is accepted), or a bundle that contains it (PTB: ``simple-examples.tgz``);
2. ``--archive-dir DIR``: ``DIR/<name>`` (or a bundle in DIR);
3. the download cache ``$DATA_ROOT/downloads/<dataset>/<name>`` (earlier downloads);
4. a download from the listed mirrors, with a short connect timeout.

Every file, whatever its origin, is verified (``sources.verify``) before anything is extracted;
nothing outside the download cache is written here.
"""

import os
import shutil
import tarfile
import urllib.error
import urllib.request
from typing import List, Optional, Sequence, Tuple

from .errors import PrepError
from .sources import RESOURCES, Resolved, UnverifiedFile, parse_sha_overrides, verify

USER_AGENT = "fairseq_gpam-data-prep/0.1"

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


def resolve(dataset: str, archives: Sequence[str], archive_dir: Optional[str],
            cache_dir: str, sha_values: Sequence[str], timeout: float,
            offline: bool = False, allow_unverified: bool = False) -> List[Resolved]:
    """Find, fetch if needed, and verify every resource of ``dataset``.

    Nothing outside ``cache_dir`` is written; on any error nothing is extracted. Files that
    nothing can verify are all named in one refusal, each with its SHA-256.
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
    resolved, missing, unverified = [], [], []
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
            sha256, what = verify(res, path, overrides.get(res.name), allow_unverified)
        except UnverifiedFile as e:  # kept (also in the cache): the user decides, then reruns
            unverified.append(e)
            continue
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
        lines.append(f"then run: gpam prepare {dataset} {example}")
        unpinned = [r.name for r, _ in missing if not r.checksums]
        if unpinned:
            lines.append(f"({', '.join(unpinned)}: no published checksum; add --sha256 NAME=HEX "
                         "for the copy you fetched (sha256sum prints it), or --allow-unverified)")
        lines.append(f"or put them, keeping their names, in {cache_dir}/ "
                     "(or any DIR given as --archive-dir DIR) and run the command again.")
        raise PrepError("\n".join(lines))
    if len(unverified) == 1:
        raise unverified[0]
    if unverified:
        lines = [f"{len(unverified)} files of {dataset} have no published checksum and no "
                 "--sha256 was given; their SHA-256:"]
        lines += [f"  {e.name}  {e.sha256}  ({e.path})" for e in unverified]
        pins = " ".join(f"--sha256 {e.name}={e.sha256}" for e in unverified)
        lines.append(f"If you trust these copies, pin them with: {pins}")
        lines.append("or use them unverified with --allow-unverified; either choice is recorded "
                     "in prep-info.json. Nothing was changed.")
        raise PrepError("\n".join(lines))
    return resolved
