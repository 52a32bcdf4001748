"""Check fairseq's binarised data before a gpam_ model trains on it.

fairseq reads ``{split}.{src}-{tgt}.{lang}.bin/.idx`` (or ``{split}.bin/.idx``) lazily
and its failures do not name the file: a truncated ``.bin`` raises "offset must be
non-negative and no greater than buffer length", an empty ``.idx`` "Index file doesn't
match expected format", and a missing target side silently loads a source-only dataset
that crashes much later with "forward() missing 1 required positional argument:
'prev_output_tokens'". This module looks at every binarised file in the data
directories once, when the model is built, and names the broken file and the fix.
"""

import os
import re
from typing import Dict, List, Set

from fairseq.data.indexed_dataset import HuffmanMMapIndex, IndexedDataset, MMapIndexedDataset

PAIR_FILE = re.compile(r"^(?P<split>.+)\.(?P<src>[^.\-]+)-(?P<tgt>[^.\-]+)\.(?P<lang>[^.\-]+)\.(?P<ext>bin|idx)$")
REPAIR = "re-run fairseq-preprocess into an empty --destdir"


class BinarisedDataError(ValueError):
    """Binarised data that fairseq would fail on (or misread); the message names the file."""


def check_binarised_data(data: str) -> None:
    """Check every ``.bin``/``.idx`` pair in the ``:``-separated directories of ``data``.

    Raises :class:`BinarisedDataError` for a ``.bin`` without its ``.idx`` (or the reverse),
    an unreadable index, a ``.bin`` shorter or longer than its index says, or a language
    pair with one side missing. Directories that do not exist are left to fairseq.
    """
    for directory in filter(None, (data or "").split(":")):
        if os.path.isdir(directory):
            _check_directory(directory)


def _check_directory(directory: str) -> None:
    names = set(os.listdir(directory))
    stems = {n[: -len(".bin")] for n in names if n.endswith(".bin")} | {
        n[: -len(".idx")] for n in names if n.endswith(".idx")
    }
    for stem in sorted(stems):
        for ext, other in (("bin", "idx"), ("idx", "bin")):
            if f"{stem}.{ext}" in names and f"{stem}.{other}" not in names:
                raise BinarisedDataError(
                    f"{os.path.join(directory, stem)}.{other} is missing but {stem}.{ext} is there: "
                    f"the binarised data is incomplete; {REPAIR}"
                )
        _check_sizes(os.path.join(directory, stem))
    _check_pairs(directory, names)


# index formats of fairseq's other --dataset-impl choices: left to fairseq's own reader
OTHER_INDEX_MAGICS = (IndexedDataset._HDR_MAGIC, HuffmanMMapIndex._HDR_MAGIC[:8])


def _check_sizes(stem_path: str) -> None:
    with open(stem_path + ".idx", "rb") as f:
        if f.read(8) in OTHER_INDEX_MAGICS:
            return
    try:
        index = MMapIndexedDataset.Index(stem_path + ".idx")
    except Exception as error:  # wrong magic, empty file, short header
        raise BinarisedDataError(
            f"{stem_path}.idx is not a fairseq mmap index ({error or type(error).__name__}): "
            f"the file is empty or corrupt; {REPAIR}"
        ) from None
    expected = 0
    if len(index) > 0:
        expected = int(index._pointers[-1]) + int(index.sizes[-1]) * index.dtype().itemsize
    actual = os.path.getsize(stem_path + ".bin")
    del index
    if actual != expected:
        raise BinarisedDataError(
            f"{stem_path}.bin holds {actual} bytes but its index {os.path.basename(stem_path)}.idx "
            f"describes {expected}: the file is truncated or corrupt; {REPAIR}"
        )


def _check_pairs(directory: str, names: Set[str]) -> None:
    langs: Dict[tuple, Set[str]] = {}
    for name in names:
        match = PAIR_FILE.match(name)
        if match and match["lang"] in (match["src"], match["tgt"]):
            langs.setdefault((match["split"], match["src"], match["tgt"]), set()).add(match["lang"])
    for (split, src, tgt), present in sorted(langs.items()):
        missing: List[str] = [lang for lang in (src, tgt) if lang not in present]
        if missing:
            raise BinarisedDataError(
                f"{os.path.join(directory, f'{split}.{src}-{tgt}.{missing[0]}')}.bin/.idx are missing "
                f"but the {present.pop()} side of {split} is there: a {src}-{tgt} split needs both "
                f"languages; {REPAIR}"
            )
