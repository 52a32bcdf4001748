"""Score a ``fairseq-generate`` output the ways the field reports translation quality.

    python scripts/score_translation.py GENERATE_OUT --ref test.raw.en --out RESULT.json
        [--detok-hyps OUT.detok] [--tokenizer moses|none] [--lang en] [--compound-split]
        [--set key=value ...]

* tokenized BLEU: BLEU of the ``--remove-bpe``'d hypotheses (H lines) against the
  tokenised references (T lines), no further tokenisation (what fairseq-generate's BLEU4
  and multi-bleu.perl report; fairseq's own BLEU4 line is kept beside it);
* detokenised sacreBLEU with its signature: the hypotheses detokenised (Moses, when the
  data was Moses-tokenised) against the raw references ``test.raw.<lang>``;
* compound-split BLEU (WMT En-De convention of Vaswani et al. 2017, tensor2tensor's
  get_ende_bleu.sh): hyphens split into ``##AT##-##AT##`` on both sides, then tokenized BLEU.

Every test sentence must have exactly one hypothesis: a missing one (fairseq's default
``--required-batch-size-multiple 8`` drops the last partial batch) stops the script with
exit status 2 and nothing is written. Outputs are written via a temporary file and a rename.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

import sacrebleu

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


def detokenize(lines, tokenizer: str, lang: str):
    if tokenizer != "moses":
        return list(lines)
    try:
        from sacremoses import MosesDetokenizer
    except ImportError:
        raise ScoreError("the data is Moses-tokenised and detokenising it needs sacremoses: "
                         "pip install sacremoses") from None
    md = MosesDetokenizer(lang=lang)
    return [md.detokenize(line.split()) for line in lines]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def score(generate_out: Path, ref_path: Path, tokenizer="none", lang="en", compound=False):
    """All scores as a dict, plus the detokenised hypotheses in test-set order."""
    raw_refs = ref_path.read_text(encoding="utf-8").splitlines()
    hyps, detok, refs, fairseq_bleu = parse_generate(generate_out)
    expected = len(raw_refs)
    if sorted(hyps) != list(range(expected)):
        missing = sorted(set(range(expected)) - set(hyps))
        raise ScoreError(
            f"{generate_out} holds {len(hyps)} hypotheses for {expected} test sentences "
            f"(missing ids: {missing[:10]}{' ...' if len(missing) > 10 else ''}); every sentence must be "
            f"translated: run fairseq-generate with --required-batch-size-multiple 1 and no --max-sentences cap")
    ids = range(expected)
    tok_hyps = [hyps[i] for i in ids]
    tok_refs = [refs.get(i, "") for i in ids]
    detok_hyps = detokenize(tok_hyps, tokenizer, lang)

    tokenized = sacrebleu.metrics.BLEU(tokenize="none", force=True)
    result = {
        "test_sentences": expected,
        "hypotheses": len(hyps),
        "bleu_tokenized": round(tokenized.corpus_score(tok_hyps, [tok_refs]).score, 2),
        "fairseq_bleu_line": fairseq_bleu,
    }
    sacre = sacrebleu.metrics.BLEU()
    sacre_score = sacre.corpus_score(detok_hyps, [raw_refs])
    result["sacrebleu"] = round(sacre_score.score, 2)
    result["sacrebleu_signature"] = str(sacre.get_signature())
    result["sacrebleu_detail"] = str(sacre_score)
    if compound:
        split = sacrebleu.metrics.BLEU(tokenize="none", force=True)
        result["bleu_compound_split"] = round(split.corpus_score(
            [compound_split(h) for h in tok_hyps], [[compound_split(r) for r in tok_refs]]).score, 2)
    return result, detok_hyps


def parse_counts(items):
    """{'params': 5789696, 'updates': None} from ['params=5789696', 'updates=']."""
    counts = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not (value == "" or value.isdigit()):
            raise ScoreError(f"--set-count takes KEY=N with N a whole number (or empty), not '{item}'")
        counts[key] = int(value) if value else None
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generate_out", type=Path)
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
        counts = parse_counts(args.set_count)
        result, detok_hyps = score(args.generate_out, args.ref, args.tokenizer, args.lang, args.compound_split)
    except ScoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result.update(dict(item.split("=", 1) for item in args.set))
    result.update(counts)
    if args.detok_hyps:
        write_atomic(args.detok_hyps, "".join(h + "\n" for h in detok_hyps))
        result["hypotheses_file"] = args.detok_hyps.name
    write_atomic(args.out, json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"tokenized BLEU {result['bleu_tokenized']}  sacreBLEU {result['sacrebleu']}  "
          f"({result['sacrebleu_signature']})"
          + (f"  compound-split BLEU {result['bleu_compound_split']}" if args.compound_split else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
