"""lambda+ and lambda- of one daGPAM attention module.

lambda+ = 1 + lambda-, so each row of A = lambda+ A+ - lambda- A- sums to 1.
A trainable lambda- is lambda_max * sigmoid(theta): it stays inside
(0, lambda_max), which bounds every attention weight to (-lambda_max, 1 + lambda_max).
"""

import math
from typing import Tuple, Union

import torch
from torch import Tensor, nn

LambdaPair = Tuple[Union[float, Tensor], Union[float, Tensor]]


class DualLambdas(nn.Module):
    """Holds lambda- for a module: a constant, one trainable scalar, or one per head.

    Args:
        init: lambda- at initialisation (the constant in ``fixed`` mode).
        mode: ``fixed``, ``layer`` (one trainable value) or ``head`` (H values).
        max_value: upper bound of a trainable lambda-.
        num_heads: H.
    """

    def __init__(self, init: float, mode: str, max_value: float, num_heads: int):
        super().__init__()
        self.mode = mode
        self.max_value = float(max_value)
        self.fixed_value = float(init)
        if mode == "fixed":
            self.theta = None
        else:
            size = num_heads if mode == "head" else 1
            p = init / max_value
            self.theta = nn.Parameter(torch.full((size,), math.log(p / (1.0 - p))))

    def forward(self) -> LambdaPair:
        """(lambda+, lambda-): floats when fixed, tensors of 1 or H values when trainable."""
        if self.theta is None:
            return 1.0 + self.fixed_value, self.fixed_value
        lam_neg = self.max_value * torch.sigmoid(self.theta.float())
        return 1.0 + lam_neg, lam_neg

    @property
    def is_zero(self) -> bool:
        """True when lambda- is the constant 0: the module is plain softmax attention."""
        return self.theta is None and self.fixed_value == 0.0

    def extra_repr(self) -> str:
        if self.theta is None:
            return f"fixed lambda-={self.fixed_value}"
        return f"trainable per {self.mode}, lambda- in (0, {self.max_value})"
