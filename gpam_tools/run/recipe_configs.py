"""``gpam recipes``: the recipe table, and the hydra configs of ``configs/`` generated from it.

Each file of ``configs/`` is one recipe of :mod:`gpam_tools.run.recipes` (a full-size model, a layer
norm, a system) written for ``fairseq-hydra-train``; ``gpam recipes --write-configs`` rewrites them
all and ``gpam recipes --check-configs`` (run by ``tests/test_configs.py``) fails when one differs.
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from gpam_tools import REPO
from gpam_tools.atomic import write_text_atomic
from gpam_tools.run.recipes import LANGUAGE_MODELING, RECIPES, TRANSLATION, hydra_config

CONFIG_DIR = REPO / "configs"

# <folder>/<name> -> the recipe and system it holds, and the data it was written for
CONFIGS: Dict[str, dict] = {}
for _ln, _suffix in (("post", ""), ("pre", "_preln")):
    for _attention, _system in (("softmax", "baseline"), ("dagpam", "dagpam")):
        CONFIGS[f"iwslt14_de_en/{_system}{_suffix}"] = dict(
            family=TRANSLATION, model="iwslt", ln=_ln, attention=_attention, data="iwslt14.de-en", src="de", tgt="en")
for _model in ("base", "big"):
    for _attention, _system in (("softmax", "baseline"), ("dagpam", "dagpam")):
        CONFIGS[f"wmt14_en_de/{_model}_{_system}"] = dict(
            family=TRANSLATION, model=_model, ln="post", attention=_attention, data="wmt14.en-de", src="en", tgt="de")
for _model in ("lm", "lm8"):
    for _attention, _system in (("softmax", "baseline"), ("dagpam", "dagpam")):
        CONFIGS[f"wikitext103/{_model}_{_system}"] = dict(
            family=LANGUAGE_MODELING, model=_model, ln="pre", attention=_attention, data="wikitext-103")
CONFIGS["ptb/lm_baseline"] = dict(family=LANGUAGE_MODELING, model="lm15", ln="pre", attention="softmax", data="ptb")
CONFIGS["ptb/lm_dagpam"] = dict(family=LANGUAGE_MODELING, model="lm15", ln="pre", attention="dagpam",
                                lambda_mode="layer", data="ptb")


def header(name: str, entry: dict) -> List[str]:
    recipe = RECIPES[(entry["family"], entry["model"])]
    folder, stem = name.split("/")
    if entry["attention"] == "dagpam":
        mode = entry.get("lambda_mode", "fixed")
        system = f"daGPAM attention (lambda- = 0.2, {'fixed' if mode == 'fixed' else 'trainable per ' + mode})"
    else:
        system = "softmax baseline (fairseq's own architecture)"
    direction = f" {entry['src']}->{entry['tgt']}" if entry["family"] == TRANSLATION else ""
    ln = f", {entry['ln']}-LN" if entry["family"] == TRANSLATION else ""
    options = f"--preset full --model {entry['model']}" + (f" --ln {entry['ln']}" if entry["family"] == TRANSLATION else "")
    if entry["attention"] == "dagpam":
        options += " --attention dagpam" + (f" --lambda-mode {entry['lambda_mode']}" if "lambda_mode" in entry else "")
    else:
        options += " --attention softmax"
    return [
        f"# {entry['data']}{direction}: {recipe.note}; {recipe.arch}{ln}, {system}.",
        "# Generated from gpam_tools/run/recipes.py by `gpam recipes --write-configs`: edit the table, not this file.",
        f"# The same run through the pipeline: gpam train {entry['data']} {options}",
        f"#   fairseq-hydra-train --config-dir configs/{folder} --config-name {stem} \\",
        f"#       task.data=$PWD/work/data-bin/{entry['data']} common.user_dir=$PWD/fairseq_gpam",
    ]


def render(name: str) -> str:
    """The YAML text of one config."""
    import yaml

    entry = CONFIGS[name]
    options = {k: entry[k] for k in ("lambda_mode", "src", "tgt") if k in entry}
    cfg = hydra_config(entry["family"], entry["model"], entry["ln"], entry["attention"],
                       save_dir=f"checkpoints/{name}", **options)
    body = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    return "\n".join(header(name, entry)) + "\n" + body


def differing(config_dir: Path = CONFIG_DIR) -> List[str]:
    """Configs missing, changed by hand, or left over from a recipe no longer in the table."""
    names = [f"{p.parent.name}/{p.stem}" for p in sorted(config_dir.glob("*/*.yaml"))]
    out = [n for n in names if n not in CONFIGS]
    for name in CONFIGS:
        path = config_dir / f"{name}.yaml"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            out.append(name)
    return out


def write_configs(config_dir: Path = CONFIG_DIR) -> List[Path]:
    written = []
    for name in CONFIGS:
        path = config_dir / f"{name}.yaml"
        write_text_atomic(path, render(name))
        written.append(path)
    return written


def table() -> str:
    lines = [f"{'family':<18} {'model':<6} {'architecture':<34} recipe"]
    for (family, model), recipe in RECIPES.items():
        lines.append(f"{family:<18} {model:<6} {recipe.arch:<34} {recipe.note}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="gpam recipes", description="The recipe table (model family x model): print it, "
                                "or write / check the hydra configs generated from it.")
    p.add_argument("--write-configs", action="store_true", help="rewrite configs/*/*.yaml from the table")
    p.add_argument("--check-configs", action="store_true", help="exit 1 if a config differs from the table")
    p.add_argument("--config-dir", type=Path, default=CONFIG_DIR, help="default: the repo's configs/")
    args = p.parse_args(argv)
    if args.write_configs:
        for path in write_configs(args.config_dir):
            print(path)
        return 0
    if args.check_configs:
        bad = differing(args.config_dir)
        if bad:
            print("gpam recipes: configs that differ from gpam_tools/run/recipes.py: " + ", ".join(bad) +
                  "; run `gpam recipes --write-configs` (and remove configs no longer in the table)", file=sys.stderr)
            return 1
        print(f"{len(CONFIGS)} configs match the recipe table")
        return 0
    print(table())
    return 0
