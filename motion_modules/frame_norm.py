"""GroupNorm whose statistics span all frames of a clip, as AnimateDiff v1 and HotShot-XL were trained.

Those families ran the UNet's ResBlocks (and its output norm) on 5-D video tensors, so
those GroupNorms normalised over (channel group, frame, height, width); the spatial
transformers regrouped to per-frame images before their own norm, and later families
normalise every frame on its own. ``frame_spanning_copy`` makes, for one such norm, a new
instance of a subclass of the norm's own class (its forward, with the host's weight
casting, still does the work), built through the class's constructor, that holds the same
parameters and regroups the batch into clips before normalising. The frame count comes
from a ``ClipFrames`` holder that a sampling-time wrapper fills in.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class ClipFrames:
    """Frames per clip in the current UNet call; 1 means per-frame statistics."""

    count: int = 1


def original_norm(norm: torch.nn.GroupNorm) -> torch.nn.GroupNorm:
    """The UNet's own norm behind a frame-spanning twin (a twin of a twin would normalise twice)."""
    return getattr(norm, "frame_spanning_of", (norm,))[0]


def frame_spanning_copy(norm: torch.nn.GroupNorm, clip_frames: ClipFrames) -> torch.nn.GroupNorm:
    """A frame-spanning twin of ``norm`` holding its parameters (same tensors, same state-dict names, no copy)."""
    norm = original_norm(norm)
    base_forward = type(norm).forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = self.clip_frames.count
        if frames <= 1 or x.dim() != 4 or x.shape[0] % frames:
            return base_forward(self, x)
        bf, c, h, w = x.shape
        # [(b f), c, h, w] -> [b, c, f, h, w]: GroupNorm's statistics then cover every frame of a clip
        clips = x.view(bf // frames, frames, c, h, w).transpose(1, 2)
        out = base_forward(self, clips)
        # [b, c, f, h, w] -> [(b f), c, h, w]
        return out.transpose(1, 2).reshape(bf, c, h, w)

    spanning_class = type(f"FrameSpanning{type(norm).__name__}", (type(norm),), {"forward": forward})
    with torch.device("meta"):  # the constructor's own parameters are replaced at once: allocate nothing
        twin = spanning_class(norm.num_groups, norm.num_channels, eps=norm.eps, affine=norm.affine)
    twin.weight, twin.bias = norm.weight, norm.bias
    twin.clip_frames = clip_frames
    twin.frame_spanning_of = (norm,)  # a tuple: not a submodule, no extra state-dict keys
    return twin
