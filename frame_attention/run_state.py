"""State of one sampling run, and banks of tokens that outlive runs.

A ``RunState`` is made per sampling run (by the binding, around ComfyUI's sampling call)
and travels in the call options: the sampler's seed, from which every random draw of a
strategy is made by ``generator(*keys)`` (so a draw depends on the seed and where it is
made, never on what ran before), and the banks of the active features.

A ``Bank`` belongs to a feature (a node's output) and lives as long as it: an identity
run writes it, later runs of the same feature read it, and ``clear()`` empties it (the
node offers that as an input). Entries are keyed by (layer, step, chunk kind), so guidance
chunks never mix; they may be kept on the CPU, and the bank refuses to grow past its limit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping

import torch

log = logging.getLogger(__name__)


class BankFullError(RuntimeError):
    """A write would take a bank past its size limit."""


class Bank:
    def __init__(self, max_bytes: int | None = None, on_cpu: bool = False) -> None:
        self.max_bytes = max_bytes
        self.on_cpu = on_cpu
        self._entries: dict[tuple, torch.Tensor] = {}
        self._nbytes = 0  # kept as entries change: a run writes thousands of entries

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def write(self, key: tuple, tokens: torch.Tensor) -> None:
        old = self._entries.get(key)
        grown = self._nbytes - (_size(old) if old is not None else 0) + _size(tokens)
        if self.max_bytes is not None and grown > self.max_bytes:
            raise BankFullError(f"the token bank would hold {grown / 2**30:.2f} GiB, over its limit of "
                                f"{self.max_bytes / 2**30:.2f} GiB: generate the identity images smaller or fewer, or raise the limit")
        self._entries[key] = tokens.detach().to("cpu") if self.on_cpu else tokens.detach()
        self._nbytes = grown

    def read(self, key: tuple, device: torch.device | None = None) -> torch.Tensor | None:
        tokens = self._entries.get(key)
        return None if tokens is None else tokens.to(device) if device is not None else tokens

    def clear(self) -> None:
        if self._entries:
            log.info("token bank cleared (%d entries, %.1f MiB)", len(self._entries), self.nbytes / 2**20)
        self._entries.clear()
        self._nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def _size(tokens: torch.Tensor) -> int:
    return tokens.numel() * tokens.element_size()


@dataclasses.dataclass(frozen=True)
class RunState:
    seed: int
    banks: Mapping[str, Bank] = dataclasses.field(default_factory=dict)  # feature key -> its bank

    def generator(self, *keys: object) -> torch.Generator:
        """A CPU generator seeded from the run's seed and ``keys`` (e.g. step and layer): the same draw every time."""
        digest = hashlib.sha256(repr((self.seed, *keys)).encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))
