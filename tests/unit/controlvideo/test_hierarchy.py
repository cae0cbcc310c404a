"""The hierarchical sampler's passes against the reference's index code, and what a clip pass attends to."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinema.controlvideo.hierarchy import HierarchyError, clip_key_positions, hierarchical_layout


def reference_indices(video_length: int, window_size: int) -> tuple[list[int], list[list[int]]]:
    """The reference's get_slide_window_indices, written from its description (REFERENCE.md, section 3): key frames
    every window-1 frames plus the last; the in-between frames of each split at the key frames, less its key frame."""
    keys = np.arange(0, video_length, window_size - 1).tolist()
    if keys[-1] != video_length - 1:
        keys.append(video_length - 1)
    inter = [part[1:].tolist() for part in np.split(np.arange(video_length), keys) if len(part) >= 2]
    return keys, inter


@pytest.mark.parametrize("frames", [15, 24, 48, 100])
def test_key_frames_and_clips_equal_the_reference_for_its_window(frames):
    window = int(np.sqrt(frames))  # the reference's inference script
    keys, inter = reference_indices(frames, window)
    layout = hierarchical_layout(frames)  # window 0: the reference's choice
    assert list(layout.key_frames) == keys
    assert [list(clip) for clip in layout.clips] == inter
    # the reference's clip f_i runs key_frame_indices[f_i:f_i+2] + frame_ids
    assert layout.passes() == [keys, *([*keys[c:c + 2], *clip] for c, clip in enumerate(inter))]


def test_the_published_layouts():
    fifteen = hierarchical_layout(15)
    assert fifteen.key_frames == (0, 2, 4, 6, 8, 10, 12, 14) and fifteen.clips == tuple((k,) for k in range(1, 14, 2))
    hundred = hierarchical_layout(100)
    assert hundred.key_frames == tuple(range(0, 100, 9)) and len(hundred.clips) == 11
    assert all(len(clip) == 8 for clip in hundred.clips)
    assert hundred.passes()[1] == [0, 9, *range(1, 9)]


@pytest.mark.parametrize("frames", [3, 4, 12, 24, 47, 100, 250])
@pytest.mark.parametrize("window", [0, 3, 5, 10])
def test_every_frame_is_predicted_by_exactly_one_pass_and_passes_stay_small(frames, window):
    layout = hierarchical_layout(frames, window)
    owners = [0] * frames
    for frames_of_pass in layout.passes():
        for frame, weight in zip(frames_of_pass, layout.weights(frames_of_pass), strict=True):
            owners[frame] += weight
    assert owners == [1.0] * frames
    used = window or max(3, math.isqrt(frames))
    assert layout.largest_pass <= max(math.ceil((frames - 1) / (used - 1)) + 2, used + 1)


def test_a_window_below_3_is_refused_with_the_fix():
    with pytest.raises(HierarchyError, match="at least 3"):
        hierarchical_layout(20, 2)


def test_a_clip_pass_attends_to_its_key_frames_and_other_passes_are_left_to_all_frames():
    clip = [9, 18, *range(10, 18)]
    assert clip_key_positions(clip, reference_positions=False) == (0, 1)
    assert clip_key_positions(clip, reference_positions=True) == (0, 9), "the reference's [0, -1]: the last in-between frame"
    assert clip_key_positions([0, 2, 1], reference_positions=False) == (0, 1)
    for other in ([9, 18, 10, 11, 12], [0, 9, 18, 27], [4, 5, 6, 7], [0, 1, 2], [3, 5], [2, 0, 1], [0, 4, 1, 3]):
        assert clip_key_positions(other, reference_positions=False) is None, other
