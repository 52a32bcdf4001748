"""``gpam score``: score a ``fairseq-generate`` output the ways the field reports translation quality.

* ``bleu_tokenized``: multi-bleu.perl's BLEU: corpus-level BLEU-4 of the ``--remove-bpe``'d
  hypotheses (H lines) against the tokenised references (T lines), split on whitespace, no further
  tokenisation, case-sensitive, no smoothing (a corpus with no matching 4-gram scores 0), one
  reference. Computed with sacreBLEU set to exactly that (``tokenize=none, smooth=none``; its
  signature is recorded). fairseq-generate's own BLEU4 line is kept beside it;
* ``sacrebleu``: detokenised sacreBLEU with its signature (13a tokenisation, exp smoothing): the
  hypotheses detokenised (Moses, when the data was Moses-tokenised) against the raw references;
* ``bleu_compound_split`` (WMT En-De convention of Vaswani et al. 2017, tensor2tensor's
  get_ende_bleu.sh): hyphens split into ``##AT##-##AT##`` on both sides, then tokenized BLEU as above.

Every test sentence must have exactly one hypothesis: a missing one (fairseq's default
``--required-batch-size-multiple 8`` drops the last partial batch) is refused and nothing is written.
"""

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from gpam_tools.atomic import write_json_atomic, write_text_atomic

COMPOUND = re.compile(r"(\S)-(\S)")


class ScoreError(Exception):
    pass


def parse_generate(path: Path):
    """{id: text} for the H (tokenised hypothesis), D (detokenised) and T (reference) lines,
    and fairseq's own BLEU line (or None)."""
    hyps, detok, refs, fairseq_bleu = {}, {}, {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            head, _, rest = line.partition("\t")
            if head.startswith(("H-", "D-")) and head[2:].isdigit():
                text = rest.split("\t", 1)[1] if "\t" in rest else ""
                (hyps if head[0] == "H" else detok).setdefault(int(head[2:]), text)
            elif head.startswith("T-") and head[2:].isdigit():
                refs[int(head[2:])] = rest
            elif "BLEU4 = " in line or "BLEU = " in line:
                fairseq_bleu = line[line.index("Generate"):] if "Generate" in line else line
    return hyps, detok, refs, fairseq_bleu


def compound_split(line: str) -> str:
    return COMPOUND.sub(r"\1 ##AT##-##AT## \2", line)


def detokenize(lines, tokenizer: str, lang: str) -> List[str]:
    if tokenizer != "moses":
        return list(lines)
    try:
        from sacremoses import MosesDetokenizer
    except ImportError:
        raise ScoreError("the data is Moses-tokenised and detokenising it needs sacremoses: "
                         "pip install sacremoses") from None
    md = MosesDetokenizer(lang=lang)
    return [md.detokenize(line.split()) for line in lines]


def multi_bleu():
    """sacreBLEU configured as multi-bleu.perl: whitespace tokens as given, no smoothing."""
    import sacrebleu

    return sacrebleu.metrics.BLEU(tokenize="none", smooth_method="none", force=True)


def score(generate_out: Path, ref_path: Path, tokenizer="none", lang="en", compound=False) -> Tuple[dict, List[str]]:
    """All scores as a dict, plus the detokenised hypotheses in test-set order."""
    import sacrebleu

    raw_refs = Path(ref_path).read_text(encoding="utf-8").splitlines()
    hyps, detok, refs, fairseq_bleu = parse_generate(generate_out)
    expected = len(raw_refs)
    if sorted(hyps) != list(range(expected)):
        missing = sorted(set(range(expected)) - set(hyps))
        raise ScoreError(
            f"{generate_out} holds {len(hyps)} hypotheses for {expected} test sentences "
            f"(missing ids: {missing[:10]}{' ...' if len(missing) > 10 else ''}); every sentence must be "
            f"translated: run fairseq-generate with --required-batch-size-multiple 1 and no --max-sentences cap")
    tok_hyps = [hyps[i] for i in range(expected)]
    tok_refs = [refs.get(i, "") for i in range(expected)]
    detok_hyps = detokenize(tok_hyps, tokenizer, lang)

    tokenized = multi_bleu()
    result = {
        "test_sentences": expected,
        "hypotheses": len(hyps),
        "bleu_tokenized": round(tokenized.corpus_score(tok_hyps, [tok_refs]).score, 2),
        "bleu_tokenized_signature": str(tokenized.get_signature()),
        "fairseq_bleu_line": fairseq_bleu,
    }
    sacre = sacrebleu.metrics.BLEU()
    sacre_score = sacre.corpus_score(detok_hyps, [raw_refs])
    result["sacrebleu"] = round(sacre_score.score, 2)
    result["sacrebleu_signature"] = str(sacre.get_signature())
    result["sacrebleu_detail"] = str(sacre_score)
    if compound:
        result["bleu_compound_split"] = round(multi_bleu().corpus_score(
            [compound_split(h) for h in tok_hyps], [[compound_split(r) for r in tok_refs]]).score, 2)
    return result, detok_hyps


def score_to_files(generate_out: Path, ref_path: Path, out: Path, detok_hyps_path: Optional[Path] = None,
                   tokenizer="none", lang="en", compound=False, facts: Optional[Dict[str, object]] = None) -> dict:
    """Score, then write the detokenised hypotheses and the result JSON (each atomically)."""
    result, detok_hyps = score(generate_out, ref_path, tokenizer, lang, compound)
    result.update(facts or {})
    if detok_hyps_path:
        write_text_atomic(detok_hyps_path, "".join(h + "\n" for h in detok_hyps))
        result["hypotheses_file"] = Path(detok_hyps_path).name
    result = dict(sorted(result.items()))
    write_json_atomic(out, result)
    return result


def summary(result: dict) -> str:
    return (f"tokenized BLEU {result['bleu_tokenized']}  sacreBLEU {result['sacrebleu']}  "
            f"({result['sacrebleu_signature']})"
            + (f"  compound-split BLEU {result['bleu_compound_split']}" if "bleu_compound_split" in result else ""))


def parse_counts(items) -> Dict[str, Optional[int]]:
    """{'params': 5789696, 'updates': None} from ['params=5789696', 'updates=']."""
    counts: Dict[str, Optional[int]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not (value == "" or value.isdigit()):
            raise ScoreError(f"--set-count takes KEY=N with N a whole number (or empty), not '{item}'")
        counts[key] = int(value) if value else None
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpam score", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("generate_out", type=Path, help="fairseq-generate output")
    parser.add_argument("--ref", type=Path, required=True, help="raw (detokenised) references")
    parser.add_argument("--out", type=Path, required=True, help="result JSON")
    parser.add_argument("--detok-hyps", type=Path, help="also write the detokenised hypotheses here")
    parser.add_argument("--tokenizer", default="none", choices=("moses", "none"))
    parser.add_argument("--lang", default="en")
    parser.add_argument("--compound-split", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="facts to record (strings)")
    parser.add_argument("--set-count", nargs="*", default=[], metavar="KEY=N",
                        help="counts to record as integers (an empty N records null)")
    args = parser.parse_args(argv)
    try:
        facts: Dict[str, object] = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise ScoreError(f"--set takes KEY=VALUE, not '{item}'")
            facts[key] = value
        facts.update(parse_counts(args.set_count))
        result = score_to_files(args.generate_out, args.ref, args.out, args.detok_hyps, args.tokenizer, args.lang,
                                args.compound_split, facts)
    except (ScoreError, OSError) as err:
        print(f"gpam score: error: {err}", file=sys.stderr)
        return 2
    print(summary(result))
    return 0
