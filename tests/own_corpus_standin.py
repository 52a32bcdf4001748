"""A STAND-IN for a user's own parallel corpus in a language pair no shipped corpus uses.

No Spanish (or French) text is shipped with the repo, and tests have no internet. So
:func:`write_standin_parallel_corpus` writes the German-English sentences of
``data-prep/corpora/ci_deen`` under another pair's file names (by default ``*.es`` holding the
German side, ``*.en`` the English side). The text is NOT Spanish: the files only exercise the
path a researcher with their own es-en corpus takes (``gpam prepare custom --src es --tgt en``,
then training, comparing and the table), with a pair code that no name list could know.
Numbers obtained on it say nothing about Spanish.

Used by tests/test_prepare_custom.py and (STUDY) tests/test_own_corpus_end_to_end.py::

    from own_corpus_standin import write_standin_parallel_corpus
    prefixes = write_standin_parallel_corpus(tmp_path / "corpus")          # es-en, 3 splits
    # gpam prepare custom --name standin.es-en --src es --tgt en \\
    #     --train {prefixes['train']} --valid {prefixes['valid']} --test {prefixes['test']}
    whole = write_standin_parallel_corpus(tmp_path / "one", splits=("all",))  # for --split N,N
"""

from pathlib import Path
from typing import Dict, Sequence

REPO = Path(__file__).resolve().parents[1]
CI_DEEN = REPO / "data-prep" / "corpora" / "ci_deen"
STANDIN_NOTE = ("STAND-IN corpus: German sentences of data-prep/corpora/ci_deen labelled as "
                "'{src}', English as '{tgt}'; not real {src} text")


def _lines(path: Path) -> list:
    text = path.read_text(encoding="utf-8").split("\n")
    return text[:-1] if text and text[-1] == "" else text


def write_standin_parallel_corpus(directory, src: str = "es", tgt: str = "en",
                                  sizes: Dict[str, int] = None,
                                  splits: Sequence[str] = ("train", "valid", "test")
                                  ) -> Dict[str, str]:
    """Write ``<directory>/<split>.<src>`` and ``<split>.<tgt>`` (line-aligned) and a README
    saying what the files really are; returns {split: path prefix} for ``--train`` etc.

    ``sizes``: pairs per split (defaults: train 1000, valid 100, test 100, "all" 1400). Train
    and "all" take ci_deen's train pairs, valid and test its valid and test pairs.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sizes = {"train": 1000, "valid": 100, "test": 100, "all": 1400, **(sizes or {})}
    source_split = {"train": "train", "all": "train", "valid": "valid", "test": "test"}
    prefixes = {}
    for split in splits:
        origin = source_split[split]
        for lang, shipped in ((src, "de"), (tgt, "en")):
            lines = _lines(CI_DEEN / f"{origin}.{shipped}")[: sizes[split]]
            (directory / f"{split}.{lang}").write_text("".join(l + "\n" for l in lines),
                                                       encoding="utf-8")
        prefixes[split] = str(directory / split)
    (directory / "README.standin").write_text(STANDIN_NOTE.format(src=src, tgt=tgt) + "\n")
    return prefixes
