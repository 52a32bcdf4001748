"""The paper's own figures, shown beside ours only for a full-size run of the same setting."""

# Heo & Choi, arXiv 2410.15578, as recovered in the project's DESIGN.md, section 1 ("Numbers
# recovered", from secondary sources: the paper's tables were not readable).
PAPER = [
    {"dataset": "ptb", "model": None, "metric": "perplexity", "softmax": 108.26, "dagpam": 106.38,
     "setting": "PTB LM, ~15-layer model, best daGPAM = trainable lambdas (Table 1)"},
    {"dataset": "wikitext-103", "model": "lm8", "metric": "perplexity", "softmax": 25.96, "dagpam": 25.33,
     "setting": "WikiText-103, 8-layer LM"},
    {"dataset": "iwslt14.de-en", "model": "iwslt", "ln": "pre", "src": "en", "tgt": "de", "metric": "bleu",
     "softmax": 28.54, "dagpam": 29.25, "setting": "IWSLT14 En-De, pre-LayerNorm"},
]
PAPER_SOURCE = "Heo & Choi 2024 (arXiv 2410.15578) via DESIGN.md section 1"


def paper_row(setting, metric):
    """The paper's figure for a setting (see ``grouping.setting_of``) and result key, or None."""
    dataset, direction, preset, model, ln, _ = setting
    if preset != "full":
        return None
    for row in PAPER:
        if row["dataset"] != dataset or (row["model"] and row["model"] != model):
            continue
        if row.get("ln") and row["ln"] != ln:
            continue
        if row.get("src") and f"{row['src']}-{row['tgt']}" != direction:
            continue
        if (row["metric"] == "bleu") == metric.startswith(("bleu", "sacre")):
            return row
    return None
