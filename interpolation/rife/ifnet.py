"""RIFE IFNet HDv3 (Huang et al., ECCV 2022), the variant ControlVideo publishes with its smoother.

Three flow blocks refine, coarse to fine (working at 1/4, 1/2 and full resolution), a
4-channel flow (middle -> frame 0 in channels 0-1, middle -> frame 1 in 2-3, pixels) and a
1-channel blend logit. Each block sees both warped frames, the logit and the flow so far,
and runs twice, once with the frames swapped; the two answers are averaged, which makes the
timestep 0.5 (this version has no timestep input). The middle frame is
sigmoid(m) * warp(I0, flow[:2]) + (1 - sigmoid(m)) * warp(I1, flow[2:]).

Module and parameter names give the published file's state-dict keys (``block0.conv0.0.0.weight``
...; loading.py strips the file's ``module.`` prefix). The file also holds the distillation
teacher ``block_tea``, used only in training; it is not built here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .warp import backward_warp

WIDTH = 90  # feature channels of every block
SCALES = (4, 2, 1)  # each block's working resolution divisor, coarse to fine
SIZE_MULTIPLE = 32  # frames are padded to this: the coarsest block works at 1/4 and downsamples 4x more, with margin
BLOCK_INPUTS = 3 + 3 + 1 + 4  # two warped RGB frames, the blend logit, the flow so far


def conv_prelu(channels_in: int, channels_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (with bias) and a per-channel PReLU: the unit every block is built from."""
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=True), nn.PReLU(channels_out))


def upsample_head(channels: int, out_channels: int) -> nn.Sequential:
    """Two stride-2 transposed convolutions: features at 1/4 of the block's resolution -> ``out_channels`` at it."""
    half = channels // 2
    return nn.Sequential(nn.ConvTranspose2d(channels, half, 4, 2, 1), nn.PReLU(half), nn.ConvTranspose2d(half, out_channels, 4, 2, 1))


class FlowBlock(nn.Module):
    """One refinement step: (frames, logit, flow) at a scale -> a flow and a logit correction at full size."""

    def __init__(self, in_channels: int, width: int = WIDTH) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(conv_prelu(in_channels, width // 2, 2), conv_prelu(width // 2, width, 2))
        # four residual pairs; the names are the published file's
        self.convblock0 = nn.Sequential(conv_prelu(width, width), conv_prelu(width, width))
        self.convblock1 = nn.Sequential(conv_prelu(width, width), conv_prelu(width, width))
        self.convblock2 = nn.Sequential(conv_prelu(width, width), conv_prelu(width, width))
        self.convblock3 = nn.Sequential(conv_prelu(width, width), conv_prelu(width, width))
        self.conv1 = upsample_head(width, 4)  # flow correction
        self.conv2 = upsample_head(width, 1)  # blend-logit correction

    def forward(self, frames: torch.Tensor, flow: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
        if scale != 1:  # flows are in pixels, so they shrink with the image
            frames = F.interpolate(frames, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
            flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
        features = self.conv0(torch.cat([frames, flow], dim=1))
        for pair in (self.convblock0, self.convblock1, self.convblock2, self.convblock3):
            features = pair(features) + features
        flow_step, logit_step = self.conv1(features), self.conv2(features)
        if scale != 1:
            flow_step = F.interpolate(flow_step, scale_factor=float(scale), mode="bilinear", align_corners=False) * scale
            logit_step = F.interpolate(logit_step, scale_factor=float(scale), mode="bilinear", align_corners=False)
        return flow_step, logit_step


def swap_flow_halves(flow: torch.Tensor) -> torch.Tensor:
    """[B, 4, H, W] (to frame 0, to frame 1) -> (to frame 1, to frame 0): the flow as seen with the frames swapped."""
    return torch.cat([flow[:, 2:4], flow[:, 0:2]], dim=1)


class RifeFlowNet(nn.Module):
    """IFNet HDv3 for inference: frames [B, 3, H, W] in [0, 1], H and W multiples of SIZE_MULTIPLE."""

    def __init__(self) -> None:
        super().__init__()
        self.block0 = FlowBlock(BLOCK_INPUTS)
        self.block1 = FlowBlock(BLOCK_INPUTS)
        self.block2 = FlowBlock(BLOCK_INPUTS)

    def estimate(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow [B, 4, H, W], blend logit [B, 1, H, W]) of the middle frame."""
        batch, _, height, width = frame0.shape
        flow = frame0.new_zeros(batch, 4, height, width)
        logit = frame0.new_zeros(batch, 1, height, width)
        warped0, warped1 = frame0, frame1
        for block, scale in zip((self.block0, self.block1, self.block2), SCALES, strict=True):
            flow_a, logit_a = block(torch.cat([warped0, warped1, logit], dim=1), flow, scale)
            # the same block with the frames swapped: its flow halves and its logit's sign swap back
            flow_b, logit_b = block(torch.cat([warped1, warped0, -logit], dim=1), swap_flow_halves(flow), scale)
            flow = flow + (flow_a + swap_flow_halves(flow_b)) / 2
            logit = logit + (logit_a - logit_b) / 2
            warped0, warped1 = backward_warp(frame0, flow[:, 0:2]), backward_warp(frame1, flow[:, 2:4])
        return flow, logit

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        flow, logit = self.estimate(frame0, frame1)
        return blend(frame0, frame1, flow, logit)


def blend(frame0: torch.Tensor, frame1: torch.Tensor, flow: torch.Tensor, logit: torch.Tensor) -> torch.Tensor:
    """sigmoid(logit) * frame0 warped by flow[:, :2] + (1 - sigmoid(logit)) * frame1 warped by flow[:, 2:]."""
    weight0 = torch.sigmoid(logit)
    return weight0 * backward_warp(frame0, flow[:, 0:2]) + (1 - weight0) * backward_warp(frame1, flow[:, 2:4])
