"""What ``gpam bench`` measures at which size (full or ``--quick``), and the targets its report checks."""

from dataclasses import dataclass
from typing import List

# daGPAM / baseline ratios the report checks (time, or peak memory)
TARGETS = {"module": 1.6, "train": 1.05, "generate": 1.10, "memory": 1.10}


@dataclass
class Settings:
    quick: bool
    lengths: List[int]
    kinds: List[str]
    module_rounds: int
    module_warmup: int
    train_max_tokens: int
    train_quantiles: tuple
    train_rounds: int
    gen_sentences: int
    gen_batches: int
    gen_rounds: int

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if quick:
            return cls(True, [32, 128], ["encoder", "decoder"], 3, 1, 1024, (0.5,), 2, 8, 1, 2)
        return cls(False, [32, 64, 128, 256, 512], ["encoder", "decoder"], 5, 1, 4096,
                   (0.5, 0.9), 3, 32, 2, 3)
