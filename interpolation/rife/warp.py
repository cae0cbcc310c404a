"""Backward warping by a flow field, as RIFE was trained with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` [B, C, H, W] read at x + flow(x), flow [B, 2, H, W] in pixels (x, y).

    Bilinear, edges replicated beyond the border, align_corners=True (pixel centres at -1 and
    1 span the image), as RIFE HDv3 was trained. The base grid is built per call: no cache.
    """
    batch, _, height, width = flow.shape
    # [W] -> [1, 1, W] -> [B, H, W] and [H] -> [1, H, 1] -> [B, H, W]: each pixel's own position, normalised
    xs = torch.linspace(-1.0, 1.0, width, device=flow.device, dtype=flow.dtype).view(1, 1, width).expand(batch, height, width)
    ys = torch.linspace(-1.0, 1.0, height, device=flow.device, dtype=flow.dtype).view(1, height, 1).expand(batch, height, width)
    # pixels -> normalised units: the image spans W - 1 pixels over a length of 2 (align_corners=True)
    grid_x = xs + flow[:, 0] * (2.0 / max(width - 1, 1))
    grid_y = ys + flow[:, 1] * (2.0 / max(height - 1, 1))
    grid = torch.stack([grid_x, grid_y], dim=-1).to(image.dtype)  # [B, H, W] x 2 -> [B, H, W, 2], grid_sample's layout
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
