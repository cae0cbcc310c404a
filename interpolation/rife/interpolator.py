"""RIFE as an INTERPOLATOR (see interpolation/base.py): ComfyUI image batches in, midpoint frames out."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..base import check_pair
from .ifnet import SIZE_MULTIPLE, RifeFlowNet


@dataclasses.dataclass
class RifeInterpolator:
    """``interpolator(first, second)`` with a loaded RifeFlowNet.

    The network runs in float32 on ``device`` (None: the frames' device) one pair at a time,
    as ControlVideo calls it; results come back on the frames' device and dtype. The network
    moves to ``device`` on first use and stays there.
    """

    network: RifeFlowNet
    device: torch.device | None = None
    name: str = "RIFE IFNet HDv3"

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        check_pair(first, second, self.name)
        device = torch.device(self.device) if self.device is not None else first.device
        network = self.network.to(device=device, dtype=torch.float32)
        middles = []
        with torch.inference_mode():
            for index in range(first.shape[0]):
                # [1, H, W, 3] -> [1, 3, H, W]: the network's channel-first layout
                frame0 = first[index:index + 1].to(device, torch.float32).permute(0, 3, 1, 2)
                frame1 = second[index:index + 1].to(device, torch.float32).permute(0, 3, 1, 2)
                middle = midpoint(network, frame0, frame1)
                middles.append(middle.permute(0, 2, 3, 1).to(first.device, first.dtype))  # [1, 3, H, W] -> [1, H, W, 3]
        return torch.cat(middles) if middles else torch.empty_like(first)


def midpoint(network: RifeFlowNet, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
    """The middle frame of [B, 3, H, W] frames of any size: padded to multiples of SIZE_MULTIPLE, then cropped back."""
    height, width = frame0.shape[-2:]
    pad_y, pad_x = -height % SIZE_MULTIPLE, -width % SIZE_MULTIPLE
    if pad_y or pad_x:
        # edge replication: zero padding would show the flow a black border to match
        frame0 = F.pad(frame0, (0, pad_x, 0, pad_y), mode="replicate")
        frame1 = F.pad(frame1, (0, pad_x, 0, pad_y), mode="replicate")
    middle = network(frame0.clamp(0, 1), frame1.clamp(0, 1))
    return middle[..., :height, :width].clamp(0, 1)
