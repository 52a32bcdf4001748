"""The recipe table: every model size and training schedule the pipeline trains, in one place.

A recipe is keyed by model family (the task a prepared dataset's ``prep-info.json`` names:
``translation`` or ``language_modeling``) and model name, never by dataset:

* full-size models, fairseq's published recipes (GPU scale): ``iwslt`` (examples/translation,
  IWSLT'14 De-En), ``base`` and ``big`` (examples/scaling_nmt, Vaswani et al. 2017), ``lm`` and
  ``lm8`` (examples/language_model, WikiText-103; ``lm8`` = 8 decoder layers), ``lm15`` (our
  PTB choice: the paper's ~15 layers, width and schedule not published);
* the scaled-down presets ``cpu`` (2 CPU cores: 2+2 layers, d=256), ``demo`` (``make demo``: a d=128
  translation model that translates after minutes) and ``tiny`` (tests).

Each recipe holds fairseq config fields grouped by fairseq's hydra sections. :func:`fairseq_args`
turns one into ``fairseq-train`` arguments; :func:`hydra_config` into the YAML of ``configs/``
(``gpam recipes --write-configs`` writes them; ``tests/test_configs.py`` checks they match).
daGPAM runs the same recipe with the ``gpam_`` architecture and ``--gpam-*`` options
(A = lambda+ softmax(Q+ K^T) - lambda- softmax(Q- K^T), lambda+ = 1 + lambda-).
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

TRANSLATION, LANGUAGE_MODELING = "translation", "language_modeling"
FAMILIES = (TRANSLATION, LANGUAGE_MODELING)
PRESETS = ("full", "cpu", "cpu-deep", "demo", "tiny")
LAMBDA_MODES = ("fixed", "layer", "head")
CRITERION = {TRANSLATION: "gpam_label_smoothed_cross_entropy", LANGUAGE_MODELING: "gpam_cross_entropy"}
# fairseq's examples train the IWSLT model on ~160k pairs and the WMT base model on ~4.5M: the
# full-size translation default follows the size of the training set
LARGE_TRANSLATION_LINES = 1_000_000

_ADAM = {"_name": "adam", "adam_betas": "(0.9,0.98)"}
_INVSQRT = {"_name": "inverse_sqrt", "warmup_updates": 4000, "warmup_init_lr": 1e-07}


@dataclass(frozen=True)
class Recipe:
    """One model and schedule: fairseq config fields per hydra section (``model`` without ``_name``)."""

    arch: str                                   # fairseq's architecture; daGPAM: "gpam_" + arch
    note: str
    model: Dict[str, object] = field(default_factory=dict)
    task: Dict[str, object] = field(default_factory=dict)
    criterion: Dict[str, object] = field(default_factory=dict)
    optimizer: Dict[str, object] = field(default_factory=dict)
    lr_scheduler: Dict[str, object] = field(default_factory=dict)
    optimization: Dict[str, object] = field(default_factory=dict)
    dataset: Dict[str, object] = field(default_factory=dict)
    checkpoint: Dict[str, object] = field(default_factory=dict)
    default_ln: str = "post"                    # translation only; language models are pre-LN

    def sections(self) -> List[Tuple[str, Dict[str, object]]]:
        return [("task", self.task), ("model", self.model), ("criterion", self.criterion),
                ("optimizer", self.optimizer), ("lr_scheduler", self.lr_scheduler),
                ("optimization", self.optimization), ("dataset", self.dataset), ("checkpoint", self.checkpoint)]


def _tiny_schedule(max_tokens: int) -> dict:
    return dict(optimizer=dict(_ADAM), lr_scheduler={"_name": "inverse_sqrt", "warmup_updates": 10},
                optimization={"lr": 1e-3, "update_freq": 1, "max_update": 20},
                dataset={"max_tokens": max_tokens, "num_workers": 0})


def _cpu_schedule(max_update: int) -> dict:
    return dict(optimizer=dict(_ADAM), lr_scheduler={**_INVSQRT, "warmup_updates": 100},
                optimization={"lr": 2e-3, "clip_norm": 0.0, "update_freq": 1, "max_update": max_update},
                dataset={"max_tokens": 4096, "num_workers": 0})


def _cpu_deep_schedule(max_update: int) -> dict:
    """The deep study's schedule (results/study-plan.md): a longer warm-up and a lower peak than ``cpu``."""
    return dict(optimizer=dict(_ADAM), lr_scheduler={**_INVSQRT, "warmup_updates": 400},
                optimization={"lr": 1e-3, "clip_norm": 0.0, "update_freq": 1, "max_update": max_update},
                dataset={"max_tokens": 4096, "num_workers": 0})


def _encoder_decoder(layers: int, dim: int, dropout: float) -> dict:
    """A scaled-down Transformer's model fields: ``layers`` + ``layers``, width ``dim``, FFN 4 x dim, 4 heads."""
    return {"encoder_layers": layers, "decoder_layers": layers, "encoder_embed_dim": dim, "decoder_embed_dim": dim,
            "encoder_ffn_embed_dim": 4 * dim, "decoder_ffn_embed_dim": 4 * dim, "encoder_attention_heads": 4,
            "decoder_attention_heads": 4, "share_all_embeddings": True, "dropout": dropout}


def _wmt(arch: str, lr: float, dropout: float, updates: int, note: str) -> Recipe:
    return Recipe(arch, note, model={"share_all_embeddings": True, "dropout": dropout},
                  criterion={"label_smoothing": 0.1}, optimizer={**_ADAM, "weight_decay": 0.0},
                  lr_scheduler=dict(_INVSQRT),
                  optimization={"lr": lr, "clip_norm": 0.0, "update_freq": 8, "max_update": updates},
                  dataset={"max_tokens": 4096}, checkpoint={"keep_last_epochs": 10})


def _lm(note: str, layers: Optional[int] = None) -> Recipe:
    return Recipe("transformer_lm", note,
                  model={"share_decoder_input_output_embed": True, "dropout": 0.1,
                         **({"decoder_layers": layers} if layers else {})},
                  task={"tokens_per_sample": 512, "sample_break_mode": "none"},
                  optimizer={**_ADAM, "weight_decay": 0.01}, lr_scheduler=dict(_INVSQRT),
                  optimization={"lr": 5e-4, "clip_norm": 0.0, "update_freq": 16, "max_update": 50000},
                  dataset={"max_tokens": 2048})


RECIPES: Dict[Tuple[str, str], Recipe] = {
    (TRANSLATION, "iwslt"): Recipe(
        "transformer_iwslt_de_en", "fairseq examples/translation, IWSLT'14 German-English",
        model={"share_decoder_input_output_embed": True, "dropout": 0.3},
        criterion={"label_smoothing": 0.1}, optimizer={**_ADAM, "weight_decay": 0.0001},
        lr_scheduler=dict(_INVSQRT),
        optimization={"lr": 5e-4, "clip_norm": 0.0, "update_freq": 1, "max_update": 60000},
        dataset={"max_tokens": 4096}, checkpoint={"keep_last_epochs": 5}),
    (TRANSLATION, "base"): _wmt("transformer_wmt_en_de", 7e-4, 0.1, 100000,
                                "fairseq examples/scaling_nmt, base; 8 x 4096 tokens per update on one GPU"),
    (TRANSLATION, "big"): _wmt("transformer_vaswani_wmt_en_de_big", 5e-4, 0.3, 300000,
                               "fairseq examples/scaling_nmt, big; 8 x 4096 tokens per update on one GPU"),
    (TRANSLATION, "cpu"): Recipe(
        "transformer", "scaled down for 2 CPU cores: 2+2 layers, d=256, 4 heads",
        model=_encoder_decoder(2, 256, 0.1),
        criterion={"label_smoothing": 0.1}, default_ln="pre",
        **{**_cpu_schedule(400), "optimizer": {**_ADAM, "weight_decay": 0.0001}}),
    (TRANSLATION, "cpu-deep"): Recipe(
        "transformer", "the deep study on 2 CPU cores: 6+6 layers, d=128, 4 heads (results/study-plan.md)",
        model=_encoder_decoder(6, 128, 0.1),
        criterion={"label_smoothing": 0.1}, default_ln="pre",
        **{**_cpu_deep_schedule(2000), "optimizer": {**_ADAM, "weight_decay": 0.0001}}),
    (TRANSLATION, "demo"): Recipe(
        "transformer", "make demo: 2+2 layers, d=128, 4 heads, no dropout, peak lr 5e-3 on 2048-token batches "
        "(translates after 800 updates, about 7 minutes of one CPU core)",
        model=_encoder_decoder(2, 128, 0.0),
        criterion={"label_smoothing": 0.1}, default_ln="pre", optimizer=dict(_ADAM),
        lr_scheduler={**_INVSQRT, "warmup_updates": 100},
        optimization={"lr": 5e-3, "clip_norm": 0.0, "update_freq": 1, "max_update": 800},
        dataset={"max_tokens": 2048, "num_workers": 0}),
    (TRANSLATION, "tiny"): Recipe(
        "transformer_tiny", "tests: fairseq's transformer_tiny (2+2 layers, d=64), no dropout",
        model={"dropout": 0.0}, criterion={"label_smoothing": 0.1}, **_tiny_schedule(2048)),
    (LANGUAGE_MODELING, "lm"): _lm("fairseq examples/language_model, transformer_lm on WikiText-103"),
    (LANGUAGE_MODELING, "lm8"): _lm("transformer_lm with 8 decoder layers", layers=8),
    (LANGUAGE_MODELING, "lm15"): Recipe(
        "transformer_lm", "PTB: the paper's ~15 layers; width and schedule are our choices",
        model={"decoder_layers": 15, "decoder_embed_dim": 256, "decoder_ffn_embed_dim": 1024,
               "decoder_attention_heads": 4, "share_decoder_input_output_embed": True, "dropout": 0.3},
        task={"tokens_per_sample": 256, "sample_break_mode": "none"},
        optimizer={**_ADAM, "weight_decay": 0.01}, lr_scheduler=dict(_INVSQRT),
        optimization={"lr": 5e-4, "clip_norm": 0.0, "max_update": 30000}, dataset={"max_tokens": 8192}),
    (LANGUAGE_MODELING, "cpu"): Recipe(
        "transformer_lm", "scaled down for 2 CPU cores: 2 layers, d=256, 128-token samples",
        model={"decoder_layers": 2, "decoder_embed_dim": 256, "decoder_ffn_embed_dim": 1024,
               "decoder_attention_heads": 4, "share_decoder_input_output_embed": True, "dropout": 0.1},
        task={"tokens_per_sample": 128, "sample_break_mode": "none"},
        **{**_cpu_schedule(300), "optimizer": {**_ADAM, "weight_decay": 0.01}}),
    (LANGUAGE_MODELING, "cpu-deep"): Recipe(
        "transformer_lm", "the deep study on 2 CPU cores: 8 layers, d=128, 128-token samples (results/study-plan.md)",
        # input/output dims set: fairseq's transformer_lm config defaults them to 512 whatever the width
        model={"decoder_layers": 8, "decoder_embed_dim": 128, "decoder_input_dim": 128, "decoder_output_dim": 128,
               "decoder_ffn_embed_dim": 512, "decoder_attention_heads": 4, "share_decoder_input_output_embed": True,
               "dropout": 0.1},
        task={"tokens_per_sample": 128, "sample_break_mode": "none"},
        **{**_cpu_deep_schedule(1500), "optimizer": {**_ADAM, "weight_decay": 0.01}}),
    (LANGUAGE_MODELING, "tiny"): Recipe(
        "transformer_lm", "tests: 2 layers, d=64, no dropout",
        model={"decoder_layers": 2, "decoder_embed_dim": 64, "decoder_ffn_embed_dim": 128,
               "decoder_attention_heads": 2, "share_decoder_input_output_embed": True, "dropout": 0.0},
        task={"tokens_per_sample": 64, "sample_break_mode": "none"}, **_tiny_schedule(1024)),
}


class RecipeError(ValueError):
    """A model, preset or layer-norm choice the table does not hold; the message names the choices."""


def full_models(family: str) -> List[str]:
    return [name for (fam, name) in RECIPES if fam == family and name not in PRESETS]


def default_full_model(family: str, train_lines: Optional[int] = None, named: Optional[str] = None) -> str:
    """The data's own choice (prep-info.json's ``full_model``) if it names one, else: ``lm`` for
    language models; for translation ``iwslt``, or ``base`` from LARGE_TRANSLATION_LINES training pairs."""
    if named:
        return named
    if family == LANGUAGE_MODELING:
        return "lm"
    return "base" if (train_lines or 0) >= LARGE_TRANSLATION_LINES else "iwslt"


def resolve(family: str, preset: str, model: Optional[str] = None, ln: Optional[str] = None,
            train_lines: Optional[int] = None, named_default: Optional[str] = None) -> Tuple[str, str, Recipe]:
    """(model name, ln, recipe) for a family and preset, with ``gpam train``'s defaults and refusals."""
    if family not in FAMILIES:
        raise RecipeError(f"model family {family!r} has no recipes; the families are {', '.join(FAMILIES)}")
    if preset not in PRESETS:
        raise RecipeError(f"--preset must be full, cpu or tiny, or cpu-deep (the deep study's models) or demo "
                          f"(make demo's translation model), not '{preset}'")
    names = full_models(family)
    if model is not None and model not in names:
        raise RecipeError(f"--model {model} does not exist for {family} data; choose one of: {' '.join(names)}")
    if preset != "full":
        if model is not None and model != default_full_model(family, train_lines, named_default):
            raise RecipeError(f"--model {model} is a full-size model; drop --preset {preset} or --model")
        model = preset
    model = model or default_full_model(family, train_lines, named_default)
    if (family, model) not in RECIPES:  # a preset for one family only (demo: translation)
        raise RecipeError(f"--preset {preset} has no {family} recipe; choose one of: "
                          f"full {' '.join(p for p in PRESETS if (family, p) in RECIPES)}")
    recipe = RECIPES[(family, model)]
    if family == LANGUAGE_MODELING:
        if ln not in (None, "pre"):
            raise RecipeError("--ln post is not available for language models (fairseq's transformer_lm "
                              "forces pre-LN); drop --ln")
        return model, "pre", recipe
    ln = ln or recipe.default_ln
    if ln not in ("pre", "post"):
        raise RecipeError(f"--ln must be pre or post, not '{ln}'")
    return model, ln, recipe


def system_fields(family: str, ln: str, attention: str, lambda_neg: str, lambda_mode: str,
                  lambda_max: str) -> Dict[str, object]:
    """Model fields that the layer norm and the system under test add to a recipe."""
    fields: Dict[str, object] = {}
    if family == TRANSLATION and ln == "pre":
        fields.update(encoder_normalize_before=True, decoder_normalize_before=True)
    if attention == "dagpam":
        fields.update(gpam_attention="dagpam", gpam_lambda_neg=float(lambda_neg), gpam_lambda_mode=lambda_mode,
                      gpam_lambda_max=float(lambda_max))
    elif attention != "softmax":  # a peer of daGPAM (non, nap, coda, diff, cog)
        fields.update(gpam_attention=attention)
    return fields


def fairseq_args(family: str, recipe: Recipe, extra_model: Dict[str, object], attention: str) -> List[str]:
    """``fairseq-train`` arguments of a recipe (data, save dir, seed and logging are the caller's)."""
    argv = ["--task", family, "--arch", ("gpam_" if attention != "softmax" else "") + recipe.arch,
            "--criterion", CRITERION[family]]
    for section, values in recipe.sections():
        if section == "model":
            values = {**values, **extra_model}
        for key, value in values.items():
            if key == "_name":
                argv += [f"--{section.replace('_', '-')}", str(value)] if section != "model" else []
                continue
            flag = "--" + key.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value is not False:
                argv += [flag, str(value)]
    return argv


def hydra_config(family: str, model: str, ln: str, attention: str, lambda_neg="0.2", lambda_mode="fixed",
                 lambda_max="1.0", src: str = "de", tgt: str = "en", save_dir: str = "checkpoints") -> dict:
    """The fairseq-hydra-train config of a recipe, as a nested dict ready for YAML."""
    recipe = RECIPES[(family, model)]
    cfg: Dict[str, dict] = {"hydra": {"run": {"dir": "."}},
                            "common": {"user_dir": "fairseq_gpam", "seed": 1, "log_format": "json",
                                       "log_interval": 100}}
    task = {"_name": family, "data": "???", **recipe.task}
    if family == TRANSLATION:
        task.update(source_lang=src, target_lang=tgt)
    cfg["task"] = task
    cfg["model"] = {"_name": ("gpam_" if attention != "softmax" else "") + recipe.arch, **recipe.model,
                    **system_fields(family, ln, attention, lambda_neg, lambda_mode, lambda_max)}
    cfg["criterion"] = {"_name": CRITERION[family], **recipe.criterion}
    for section in ("optimizer", "lr_scheduler"):
        cfg[section] = dict(getattr(recipe, section))
    optimization = dict(recipe.optimization)
    for key in ("lr", "update_freq"):  # lists in fairseq's config
        if key in optimization:
            optimization[key] = [optimization[key]]
    cfg["optimization"] = optimization
    cfg["dataset"] = dict(recipe.dataset)
    cfg["checkpoint"] = {"save_dir": save_dir, **recipe.checkpoint}
    return cfg
