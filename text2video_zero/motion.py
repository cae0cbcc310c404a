"""Global translation of a latent frame, with the reference's exact warp conventions.

The flow is defined on a fixed 512x512 pixel grid whatever the image size (so the shift in
latent pixels grows with the latent size): frame k moves by strength*k pixels of that grid.
The sampling grid is (pixel + flow) / 512 * 2 - 1, resized bilinearly to the latent size,
then the latent is sampled nearest-neighbour with reflection padding: output(p) = input(p + delta),
so content moves toward -delta.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

FLOW_GRID = 512  # the reference's flow resolution, independent of the image size


def warp_grid(shift_x: float, shift_y: float, height: int, width: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """grid_sample grid [1, height, width, 2] (x, y in [-1, 1]) for a constant flow (shift_x, shift_y) on the 512 grid."""
    steps = torch.arange(FLOW_GRID, device=device, dtype=dtype)
    # [512] pixel positions plus flow, normalised by the grid size (not size - 1), to [-1, 1]
    xs = (steps + shift_x) / FLOW_GRID * 2.0 - 1.0
    ys = (steps + shift_y) / FLOW_GRID * 2.0 - 1.0
    # [1, 2, 512, 512]: channel 0 varies along columns (x), channel 1 along rows (y)
    grid = torch.stack([xs.expand(FLOW_GRID, FLOW_GRID), ys[:, None].expand(FLOW_GRID, FLOW_GRID)])[None]
    grid = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)
    # [1, 2, h, w] -> [1, h, w, 2]
    return grid.permute(0, 2, 3, 1)


def frame_shifts(frame_ids: Sequence[int], strength_x: float, strength_y: float) -> list[tuple[float, float]]:
    """Flow of each frame on the 512 grid: delta_k = strength * k for global frame id k (frame 0 stays)."""
    return [(strength_x * k, strength_y * k) for k in frame_ids]


def warp_frames(latents: torch.Tensor, frame_ids: Sequence[int], strength_x: float, strength_y: float) -> torch.Tensor:
    """Warp latents [F, C, h, w] frame by frame; frame i by the flow of global frame id ``frame_ids[i]``."""
    if latents.shape[0] != len(frame_ids):
        raise ValueError(f"warp: {latents.shape[0]} latent frames but {len(frame_ids)} frame ids")
    _, _, height, width = latents.shape
    out = torch.empty_like(latents)
    for i, (dx, dy) in enumerate(frame_shifts(frame_ids, strength_x, strength_y)):
        if dx == 0 and dy == 0:
            out[i] = latents[i]  # exactly the identity (the grid round trip need not be)
            continue
        grid = warp_grid(dx, dy, height, width, dtype=latents.dtype, device=latents.device)
        # [1, C, h, w] sampled at [1, h, w, 2]
        out[i] = F.grid_sample(latents[i:i + 1], grid, mode="nearest", padding_mode="reflection", align_corners=False)[0]
    return out
