"""The ``--gpam-*`` options: one dataclass for the command line and hydra, one
validated, immutable view of it for the modules.

Every flag carries the ``gpam`` prefix: fairseq's ``TransformerConfig.from_namespace``
ignores names it does not know, so the plugin reads these explicitly.
"""

import math
from dataclasses import dataclass, field
from typing import Tuple

from fairseq.dataclass import ChoiceEnum, FairseqDataclass

ATTENTION_CHOICES = ("dagpam", "softmax", "non", "nap", "coda", "diff", "cog")
LAMBDA_MODES = ("fixed", "layer", "head")
NEG_QUERY_INITS = ("neg_identity", "xavier")
NEG_QUERY_SHARING = ("module", "head")
KERNELS = ("auto", "reference")
POSITIONS = ("encoder_self", "decoder_self", "encoder_decoder")

DEFAULT_LAMBDA_NEG = 0.2


class GpamConfigError(ValueError):
    """An invalid ``--gpam-*`` value; the message names the flag and what it accepts."""


@dataclass
class GpamConfig(FairseqDataclass):
    """Options shared by every ``gpam_`` model (mixed into their configs)."""

    gpam_attention: ChoiceEnum(ATTENTION_CHOICES) = field(
        default="dagpam",
        metadata={"help": "attention in the positions named by --gpam-positions: "
                  "dagpam (dual-softmax, signed weights), softmax (fairseq's own), or a "
                  "peer variant: non, nap, coda, diff, cog (see fairseq_gpam/modules/variants)"},
    )
    gpam_lambda_neg: float = field(
        default=DEFAULT_LAMBDA_NEG,
        metadata={"help": "lambda-, weight of the negative map; lambda+ = 1 + lambda- "
                  "so every row of A sums to 1 (initial value when trainable)"},
    )
    gpam_lambda_mode: ChoiceEnum(LAMBDA_MODES) = field(
        default="fixed",
        metadata={"help": "fixed lambdas, or trainable: one lambda- per attention "
                  "module (layer) or one per head (head)"},
    )
    gpam_lambda_max: float = field(
        default=1.0,
        metadata={"help": "upper bound of a trainable lambda-: lambda- = max * "
                  "sigmoid(theta) stays in (0, max), so weights stay in (-max, 1 + max)"},
    )
    gpam_neg_query_init: ChoiceEnum(NEG_QUERY_INITS) = field(
        default="neg_identity",
        metadata={"help": "initialisation of the d_head x d_head matrix W- in "
                  "Q- = ReLU(Q+) W-: neg_identity (-I, the paper's analysis) or xavier"},
    )
    gpam_neg_query_sharing: ChoiceEnum(NEG_QUERY_SHARING) = field(
        default="module",
        metadata={"help": "one W- shared by all heads of a module, or one per head"},
    )
    gpam_positions: str = field(
        default=",".join(POSITIONS),
        metadata={"help": "comma-separated attention modules that use --gpam-attention: "
                  + ", ".join(POSITIONS) + " (the others keep softmax attention)"},
    )
    gpam_kernel: ChoiceEnum(KERNELS) = field(
        default="auto",
        metadata={"help": "auto: PyTorch's fused attention kernel where no weights or "
                  "dropout are needed; reference: always the explicit dual-softmax path"},
    )


@dataclass(frozen=True)
class GpamOptions:
    """Validated ``--gpam-*`` values, as the attention modules use them."""

    attention: str = "dagpam"
    lambda_neg: float = DEFAULT_LAMBDA_NEG
    lambda_mode: str = "fixed"
    lambda_max: float = 1.0
    neg_query_init: str = "neg_identity"
    neg_query_sharing: str = "module"
    positions: Tuple[str, ...] = POSITIONS
    kernel: str = "auto"

    def __post_init__(self):
        _check_choice("--gpam-attention", self.attention, ATTENTION_CHOICES)
        _check_choice("--gpam-lambda-mode", self.lambda_mode, LAMBDA_MODES)
        _check_choice("--gpam-neg-query-init", self.neg_query_init, NEG_QUERY_INITS)
        _check_choice("--gpam-neg-query-sharing", self.neg_query_sharing, NEG_QUERY_SHARING)
        _check_choice("--gpam-kernel", self.kernel, KERNELS)
        if not self.positions:
            raise GpamConfigError(
                "--gpam-positions is empty; give one or more of " + ", ".join(POSITIONS)
            )
        for position in self.positions:
            _check_choice("--gpam-positions", position, POSITIONS)
        if not math.isfinite(self.lambda_max) or self.lambda_max <= 0:
            raise GpamConfigError(
                f"--gpam-lambda-max={self.lambda_max} is invalid; it must be a finite number > 0"
            )
        if not math.isfinite(self.lambda_neg) or self.lambda_neg < 0:
            raise GpamConfigError(
                f"--gpam-lambda-neg={self.lambda_neg} is invalid; it must be a finite number >= 0"
            )
        if self.lambda_mode != "fixed" and not 0 < self.lambda_neg < self.lambda_max:
            raise GpamConfigError(
                f"--gpam-lambda-neg={self.lambda_neg} cannot start a trainable lambda "
                f"(--gpam-lambda-mode={self.lambda_mode}); it must lie strictly between 0 "
                f"and --gpam-lambda-max={self.lambda_max}"
            )

    @classmethod
    def from_cfg(cls, cfg) -> "GpamOptions":
        """Read the ``gpam_*`` fields of an argparse Namespace or an omegaconf config."""
        defaults = GpamConfig()

        def get(name):
            value = getattr(cfg, name, None)
            return getattr(defaults, name) if value is None else value

        positions = get("gpam_positions")
        if isinstance(positions, str):
            positions = parse_positions(positions)
        return cls(
            attention=str(get("gpam_attention")),
            lambda_neg=_as_float("--gpam-lambda-neg", get("gpam_lambda_neg")),
            lambda_mode=str(get("gpam_lambda_mode")),
            lambda_max=_as_float("--gpam-lambda-max", get("gpam_lambda_max")),
            neg_query_init=str(get("gpam_neg_query_init")),
            neg_query_sharing=str(get("gpam_neg_query_sharing")),
            positions=tuple(positions),
            kernel=str(get("gpam_kernel")),
        )

    def uses_variant(self, position: str) -> bool:
        """Whether the attention module at ``position`` is the ``--gpam-attention`` variant
        (False where fairseq's softmax module stays)."""
        return self.attention != "softmax" and position in self.positions


def add_gpam_args(parser, delete_default: bool = False) -> None:
    """Add the ``--gpam-*`` flags to an argparse parser (generated from :class:`GpamConfig`)."""
    from fairseq.dataclass.utils import gen_parser_from_dataclass

    gen_parser_from_dataclass(parser, GpamConfig(), delete_default=delete_default)
    check_gpam_args(parser)


def check_gpam_args(parser) -> None:
    """Give the numeric and list ``--gpam-*`` flags of ``parser`` a checking ``type``, so that
    ``fairseq-train`` stops with a usage error naming the flag before it reads any data."""

    def lambda_neg(value):
        return GpamOptions(lambda_neg=_as_float("--gpam-lambda-neg", value)).lambda_neg

    def lambda_max(value):
        return GpamOptions(lambda_max=_as_float("--gpam-lambda-max", value)).lambda_max

    def positions(value):
        GpamOptions(positions=parse_positions(value))
        return value

    checks = {"gpam_lambda_neg": lambda_neg, "gpam_lambda_max": lambda_max, "gpam_positions": positions}
    # argparse keeps the actions of a group in the parent's list: retype ours in place
    for action in parser._actions:
        if action.dest in checks:
            action.type = _argparse_type(checks[action.dest])


def parse_positions(text: str) -> Tuple[str, ...]:
    """'encoder_self, decoder_self' -> ('encoder_self', 'decoder_self')."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _argparse_type(convert):
    """Wrap ``convert`` so that a :class:`GpamConfigError` becomes an argparse usage error."""
    import argparse

    def parse(value: str):
        try:
            return convert(value)
        except GpamConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _check_choice(flag: str, value: str, choices) -> None:
    if value not in choices:
        raise GpamConfigError(
            f"{flag}={value!r} is not known; choose from: {', '.join(choices)}"
        )


def _as_float(flag: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise GpamConfigError(f"{flag}={value!r} is not a number") from None
