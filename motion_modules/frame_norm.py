"""GroupNorm whose statistics span all frames of a clip, as AnimateDiff v1 and HotShot-XL were trained.

Those families ran the UNet on 5-D video tensors, so every GroupNorm of the UNet
normalised over (channel group, frame, height, width); later families normalise each
frame on its own. ``frame_spanning_copy`` makes, for one UNet norm, a subclass instance
of the norm's own class (so the host's casting/offloading logic still runs) that shares
its parameters and regroups the batch into clips before normalising. The frame count
comes from a ``ClipFrames`` holder that a sampling-time wrapper fills in.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class ClipFrames:
    """Frames per clip in the current UNet call; 1 means per-frame statistics."""

    count: int = 1


def _spanning_forward(self, x: torch.Tensor) -> torch.Tensor:
    frames = self.clip_frames.count
    if frames <= 1 or x.dim() != 4 or x.shape[0] % frames:
        return super(type(self), self).forward(x)
    bf, c, h, w = x.shape
    # [(b f), c, h, w] -> [b, c, f, h, w]: GroupNorm's statistics then cover every frame of a clip
    clips = x.view(bf // frames, frames, c, h, w).transpose(1, 2)
    out = super(type(self), self).forward(clips)
    # [b, c, f, h, w] -> [(b f), c, h, w]
    return out.transpose(1, 2).reshape(bf, c, h, w)


def frame_spanning_copy(norm: torch.nn.GroupNorm, clip_frames: ClipFrames) -> torch.nn.GroupNorm:
    """A frame-spanning twin of ``norm`` sharing its parameters (same state-dict names, no copy)."""
    spanning_class = type(f"FrameSpanning{type(norm).__name__}", (type(norm),), {"forward": _spanning_forward})
    twin = spanning_class.__new__(spanning_class)
    twin.__dict__.update(norm.__dict__)
    # Own containers, same tensors: patching a weight on the twin never touches the original module.
    twin._parameters = dict(norm._parameters)
    twin._buffers = dict(norm._buffers)
    twin._modules = dict(norm._modules)
    twin.clip_frames = clip_frames
    return twin
