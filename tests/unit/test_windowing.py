"""Frames-as-batch video under context windows: what a window call holds and which control image each frame gets."""

from __future__ import annotations

import pytest

from kinema.windowing import hint_indices, pass_frame_ids, window_plan


def test_a_causal_anchor_frame_adds_one_frame_per_window_call():
    assert window_plan(16, causal_anchor=False, frames_as_batch=True, host_reads_batch_timestep=True).frames_per_pass == 16
    assert window_plan(16, causal_anchor=True, frames_as_batch=True, host_reads_batch_timestep=True).frames_per_pass == 17


@pytest.mark.parametrize(("frames_as_batch", "reads", "repair"), [(True, False, True), (True, True, False), (False, False, False)])
def test_the_step_is_repaired_only_for_frames_as_batch_on_a_host_that_cannot_read_it(frames_as_batch, reads, repair):
    assert window_plan(8, False, frames_as_batch, reads).repair_step is repair


def test_a_window_call_holds_its_frames_after_the_causal_anchor():
    assert pass_frame_ids([4, 5, 6], None) == [4, 5, 6]
    assert pass_frame_ids([4, 5, 6], 3) == [3, 4, 5, 6]
    assert pass_frame_ids([0, 1, 2], -1) == [0, 1, 2]  # the first window has no frame before it


def test_frames_pair_with_images_as_core_pairs_an_unwindowed_clip():
    assert hint_indices([3, 4, 5], 6) == [3, 4, 5]
    assert hint_indices([3, 4, 5], 2) == [1, 0, 1]  # core repeats a shorter image batch: frame i gets image i mod N
    assert hint_indices([5, 6], 1) == [0, 0]
    with pytest.raises(ValueError, match="without control images"):
        hint_indices([0], 0)
