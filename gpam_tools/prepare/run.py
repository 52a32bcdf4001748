"""Run one recipe under the data contract: nothing-to-do check, staging, prep-info.json, publish."""

import os
from typing import Callable

from . import info
from .stage import Preparation, already_done, require_tools


def prepare(*, dataset: str, kind: str, task: str, full_model: str, data_root: str, force: bool,
            command: str, build: Callable, options) -> int:
    """Build ``dataset`` with ``build(prep, options)`` (which returns the facts for prep-info)
    and publish it; a dataset already prepared is left alone unless ``force``. Returns 0."""
    message = already_done(data_root, dataset, force)
    if message:
        print(message)
        return 0
    require_tools()
    with Preparation(dataset, data_root, command, force) as prep:
        if prep.skipped:
            print(prep.skipped)
            return 0
        facts = build(prep, options)
        written = info.write(os.path.join(prep.stage_bin, "prep-info.json"), dataset=dataset,
                             kind=kind, task=task, full_model=full_model,
                             text_dir=prep.stage_text, bin_dir=prep.stage_bin, command=command,
                             published_text_dir=prep.text_dir, published_bin_dir=prep.bin_dir,
                             **facts)
        print(f"wrote prep-info.json: lines {written['lines']}, "
              f"vocabulary {written['vocabulary_size']}")
        prep.publish()
    return 0
