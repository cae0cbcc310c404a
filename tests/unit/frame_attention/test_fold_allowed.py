"""When a UNet call may see a chunk's frames folded into one query sequence: only when nothing else can see the layout."""

from __future__ import annotations

from kinema.frame_attention import AnchorStrategy, FrameAttentionPatch, RestoreFrameBatch, fold_allowed, is_frame_attention_patch

OURS, RESTORE = FrameAttentionPatch(AnchorStrategy()), RestoreFrameBatch()


def other(*_):
    return None


def test_folding_needs_our_patch_last_our_restore_first_and_no_replacement():
    assert fold_allowed([other, OURS], [RESTORE, other], False, is_frame_attention_patch)
    assert not fold_allowed([OURS, other], [RESTORE], False, is_frame_attention_patch), "a later patch would see the fold"
    assert not fold_allowed([OURS], [other, RESTORE], False, is_frame_attention_patch), "an earlier output patch would see it"
    assert not fold_allowed([OURS], [RESTORE], True, is_frame_attention_patch), "an attn1 replacement would see it"
    assert not fold_allowed([], [RESTORE], False, is_frame_attention_patch)
    assert not fold_allowed([OURS], [], False, is_frame_attention_patch)
