"""A story's panels as consistent-attention roles: identity images write, other panels read, [NC] panels stay plain."""

from __future__ import annotations

from ..frame_attention import PLAIN, Role
from .story import Story


def story_roles(story: Story) -> tuple[Role, ...]:
    """One role per panel, by panel index (the panel's place in the latent batch): each panel its own gate, as the
    reference samples every later panel on its own."""
    roles = []
    for index in range(len(story.panels)):
        writer, reads = story.writer_of(index), story.reads(index)
        roles.append(Role(writes=writer) if writer is not None else Role(reads=reads, gate=("panel", index)) if reads else PLAIN)
    return tuple(roles)
