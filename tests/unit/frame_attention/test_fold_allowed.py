"""When a UNet call may fold a chunk's frames into one query sequence, and which layers our replacement runs for."""

from __future__ import annotations

from frame_attention_support import read_facts, sdpa
from kinema.frame_attention import (
    FrameAttention,
    FrameAttentionReplacement,
    RestoreFrameBatch,
    fold_allowed,
    is_frame_attention_patch,
    route,
)

OURS = FrameAttention(read_facts=read_facts, attend=sdpa)
RESTORE, REPLACEMENT = RestoreFrameBatch(), FrameAttentionReplacement(OURS)


def other(*_):
    return None


def test_folding_needs_our_patch_last_and_our_restore_first():
    assert fold_allowed([other, OURS], [RESTORE, other], is_frame_attention_patch)
    assert not fold_allowed([OURS, other], [RESTORE], is_frame_attention_patch), "a later patch would see the fold"
    assert not fold_allowed([OURS], [other, RESTORE], is_frame_attention_patch), "an earlier output patch would see it"
    assert not fold_allowed([], [RESTORE], is_frame_attention_patch)
    assert not fold_allowed([OURS], [], is_frame_attention_patch)


def test_another_nodes_replacement_owns_its_layers_and_its_block_key_shadows_none_of_ours():
    replacements = {("output", 3, 0): REPLACEMENT, ("output", 3, 1): REPLACEMENT, ("middle", 0): other, ("input", 1, 0): other,
                    ("middle", 0, 0): REPLACEMENT}
    decided = route(6, [OURS], [RESTORE], replacements, is_frame_attention_patch)
    assert decided.folds(("output", 3, 0)) and decided.replaces(("output", 3, 0))
    assert not decided.folds(("input", 1, 0)) and not decided.replaces(("input", 1, 0)), "PAG-like: its layer, as it is"
    assert decided.owner(("middle", 0, 0)) is other and not decided.replaces(("middle", 0, 0)), "ours shadows its block key: defer"
    assert not route(6, [OURS, other], [RESTORE], replacements, is_frame_attention_patch).folds(("output", 3, 0))
