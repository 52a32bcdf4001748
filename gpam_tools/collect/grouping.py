"""Which runs are compared with which: a setting is everything but the attention system and the seed."""

BLEU_METRICS = [("bleu_tokenized", "tokenized BLEU"), ("sacrebleu", "sacreBLEU"),
                ("bleu_compound_split", "compound-split BLEU")]
LM_METRICS = [("perplexity", "test perplexity")]
LOWER_IS_BETTER = {"perplexity"}


def metrics_of(task):
    """The (result key, label) pairs a run of ``task`` is scored by."""
    return BLEU_METRICS if task == "translation" else LM_METRICS


def setting_of(info):
    """Runs that differ only in attention and seed share a setting (a run's --tag separates settings)."""
    direction = f"{info['src']}-{info['tgt']}" if info.get("src") else ""
    return (info["dataset"], direction, info["preset"], info["model"], info["ln"], info.get("tag") or "")


def setting_label(setting):
    dataset, direction, preset, model, ln, tag = setting
    return ", ".join(x for x in (dataset, direction, f"{preset} preset", f"model {model}", f"{ln}-LN",
                                 tag and f"tag {tag}") if x)
