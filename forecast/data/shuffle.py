"""A seeded pseudo-random permutation of range(n), evaluated at any positions.

Shuffling the windows of an epoch with `torch.randperm(n)` costs an [n] int64 array: for 10
series of 1M rows that is 56 MB, more than the float32 data itself. A keyed Feistel network is
a bijection on [0, 2^bits); "cycle walking" (re-applying it to the results >= n) restricts it
to a bijection on range(n). The window at any position of the shuffled order then costs a few
integer operations, in numpy (fast on CPU) or torch (on the GPU with the series).
"""

from __future__ import annotations

import numpy as np
import torch

_ROUNDS = 4
_MIX = 0x45D9F3B  # the multiplier of a well-mixing 32-bit integer hash
_LOW32 = 0xFFFFFFFF


class Permutation:
    """Bijection of range(n), fixed by `seed`.

    Args:
        n: size of the range (up to 2**62).
        seed: key of the permutation.

    Example:
        >>> order = Permutation(10, seed=0)(np.arange(10))
        >>> sorted(order.tolist()) == list(range(10))
        True
    """

    def __init__(self, n: int, seed: int):
        self.n, self.bits = n, max(2, int(n - 1).bit_length())  # 2**bits < 2n: few walks
        self.keys = np.random.default_rng(seed).integers(0, 1 << 31, _ROUNDS).tolist()

    def __call__(self, position: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """[B] int64 positions in range(n) (numpy or torch) -> [B] their items."""
        out = self._encrypt(position)
        outside = out >= self.n
        while bool(outside.any()):
            walk = outside.nonzero()[0] if isinstance(out, np.ndarray) else outside.nonzero()[:, 0]
            out[walk] = self._encrypt(out[walk])
            outside = out >= self.n
        return out

    def _encrypt(self, x):
        """Unbalanced Feistel network on `bits`-bit integers: the halves swap width each round."""
        left_bits = self.bits // 2
        right_bits = self.bits - left_bits
        left, right = x >> right_bits, x & ((1 << right_bits) - 1)
        for key in self.keys:
            # (L, R) -> (R, L ^ F(R)): the new right half has the width of the old left one.
            left, right = right, left ^ (_hash(right, key) & ((1 << left_bits) - 1))
            left_bits, right_bits = right_bits, left_bits
        return (left << right_bits) | right


def _hash(half, key: int):
    # Products stay below 2**63: a half has at most 31 bits, each hash value 32, _MIX 27.
    h = (half * _MIX + key) & _LOW32
    h = h ^ (h >> 16)
    h = (h * _MIX) & _LOW32
    return h ^ (h >> 16)
