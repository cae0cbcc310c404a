"""Comic typesetting: golden layout plans (groups, padding, shuffles) and the pages Pillow draws from them."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageFont

from kinema.storydiffusion.comic import (
    BORDER,
    LAYOUTS,
    Cell,
    caption_font_size,
    caption_panel,
    classic_comic_pages,
    classic_comic_plan,
    classic_group_sizes,
    four_panel_pages,
    four_panel_plan,
    pad_to_common_size,
    wrap_caption,
)


def panel(index: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A panel no pixel of which is white, told apart by its red and oriented by its green/blue ramps."""
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = 20 + 10 * index
    pixels[..., 1] = (np.arange(width) * 3 % 200)[None, :]
    pixels[..., 2] = (np.arange(height) * 3 % 200)[:, None]
    return Image.fromarray(pixels)


def panels(count: int, size: tuple[int, int] = (64, 64)) -> list[Image.Image]:
    return [panel(index, size) for index in range(count)]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(int)


def flat(page) -> list[int | None]:
    return [index for row in page for cell in row for index in cell.panels]


# -- plans --------------------------------------------------------------------------------------

# panels -> (pages, blank panels)
FOUR_PANEL_GOLDEN = {1: (1, 3), 2: (1, 2), 3: (1, 1), 4: (1, 0), 5: (2, 3), 6: (2, 2), 7: (2, 1), 8: (2, 0),
                     9: (3, 3), 10: (3, 2), 11: (3, 1), 12: (3, 0), 13: (4, 3)}


@pytest.mark.parametrize(("count", "golden"), FOUR_PANEL_GOLDEN.items())
def test_four_panel_pages_and_padding(count, golden):
    plan = four_panel_plan(count)
    pages, blanks = golden
    assert len(plan) == pages
    everything = [index for page in plan for index in flat(page)]
    assert everything == [*range(count), *[None] * blanks]  # reading order, blanks at the end
    for page in plan:
        assert [len(row) for row in page] == [2, 2]
        assert all(cell.captioned and not cell.stacked for row in page for cell in row)


def test_four_panel_plan_golden_shape():
    assert four_panel_plan(6) == [
        ((Cell((0,)), Cell((1,))), (Cell((2,)), Cell((3,)))),
        ((Cell((4,)), Cell((5,))), (Cell((None,)), Cell((None,)))),
    ]


# panels -> group sizes, blank panels included
CLASSIC_GOLDEN = {1: [4], 3: [4], 4: [4], 5: [4, 4], 7: [4, 4], 8: [4, 4], 9: [4, 6], 10: [4, 6], 11: [4, 6, 4],
                  12: [4, 6, 4], 14: [4, 6, 4], 15: [4, 6, 4, 4], 17: [4, 6, 4, 4], 19: [4, 6, 4, 6], 20: [4, 6, 4, 6],
                  21: [4, 6, 4, 6, 4]}


@pytest.mark.parametrize(("count", "sizes"), CLASSIC_GOLDEN.items())
def test_classic_group_sizes(count, sizes):
    assert classic_group_sizes(count) == sizes


@pytest.mark.parametrize("count", [1, 4, 7, 8, 9, 12, 17, 19])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classic_plan_uses_every_panel_once_in_order(count, seed):
    plan = classic_comic_plan(count, random.Random(seed))
    assert len(plan) == 1  # the reference stacks every strip into one page
    (page,) = plan
    blanks = sum(classic_group_sizes(count)) - count
    assert flat(page) == [*range(count), *[None] * blanks]
    for row, size in zip(page, classic_group_sizes(count), strict=True):
        assert sum(len(cell.panels) for cell in row) == size
        assert sorted(len(cell.panels) for cell in row) == ([1, 1, 2] if size == 4 else [1, 1, 2, 2])
        assert all(cell.captioned == (len(cell.panels) == 1) for cell in row)


def columns(plan) -> list[list[int]]:
    return [[len(cell.panels) for cell in row] for row in plan[0]]


def test_classic_shuffle_follows_the_seed_only():
    state = random.getstate()
    assert classic_comic_plan(17, random.Random(7)) == classic_comic_plan(17, random.Random(7))
    assert len({str(columns(classic_comic_plan(17, random.Random(seed)))) for seed in range(10)}) > 1
    # a group of 4 can come out in all three arrangements
    assert {str(columns(classic_comic_plan(4, random.Random(seed)))) for seed in range(40)} == {
        "[[1, 1, 2]]", "[[1, 2, 1]]", "[[2, 1, 1]]"}
    assert random.getstate() == state  # the global generator is never touched


def test_classic_plan_draws_from_the_given_generator():
    rng = random.Random(3)
    first, second = classic_comic_plan(21, rng), classic_comic_plan(21, rng)
    fresh = random.Random(3)
    assert classic_comic_plan(21, fresh) == first and classic_comic_plan(21, fresh) == second


@pytest.mark.parametrize("count", [0, -1])
def test_plans_need_a_panel(count):
    with pytest.raises(ValueError, match="at least one panel"):
        four_panel_plan(count)
    with pytest.raises(ValueError, match="at least one panel"):
        classic_comic_plan(count, random.Random(0))


def test_a_cell_holds_one_or_two_panels():
    with pytest.raises(ValueError, match="not 3"):
        Cell((0, 1, 2))


# -- captions -----------------------------------------------------------------------------------

def test_font_size_scales_with_the_panel():
    assert caption_font_size((768, 768)) == 45
    assert caption_font_size((256, 512)) == 15
    assert caption_font_size((1536, 1536)) == 90
    assert caption_font_size((32, 32)) == 8  # never unreadably small


def test_wrap_keeps_lines_within_the_width():
    font = ImageFont.load_default(size=20)
    text = "the little fox jumps over a sleeping dog under the old oak tree at dawn"
    lines = wrap_caption(text, font, 120)
    assert len(lines) > 2
    assert all(font.getlength(line) <= 120 for line in lines)
    assert " ".join(lines).split() == text.split()
    # greedy: the next line's first word would not have fit on the line before
    assert all(font.getlength(f"{line} {after.split()[0]}") > 120 for line, after in zip(lines, lines[1:], strict=False))


def test_wrap_splits_a_word_wider_than_a_line():
    font = ImageFont.load_default(size=20)
    lines = wrap_caption("a supercalifragilisticexpialidocious day", font, 80)
    assert all(font.getlength(line) <= 80 for line in lines)
    assert "".join(lines).replace(" ", "") == "asupercalifragilisticexpialidociousday"
    assert wrap_caption("   ", font, 80) == []


def changed_rows(before: Image.Image, after: Image.Image) -> np.ndarray:
    return np.flatnonzero((pixels(before) != pixels(after)).any(axis=(1, 2)))


def test_caption_darkens_the_bottom_and_leaves_the_top():
    white = Image.new("RGB", (256, 256), "white")
    captioned = caption_panel(white, "A cat walks home")
    rows = changed_rows(white, captioned)
    assert rows.size and rows.min() > 256 * 3 // 4  # only the bottom quarter changes
    bottom = pixels(captioned)[rows.min():]
    assert bottom.min() < 60  # black text
    assert (pixels(captioned)[: rows.min()] == 255).all()


def test_caption_box_is_white_at_alpha_200_and_bottom_centred():
    black = Image.new("RGB", (256, 192), "black")
    captioned = pixels(caption_panel(black, "Hi"))
    box = np.argwhere((captioned == 200).all(axis=2))  # white at 200/255 over black, where no text is
    assert box.size
    top, left = box.min(axis=0)
    bottom, right = box.max(axis=0)
    assert abs((left + right) / 2 - 256 / 2) <= 1
    assert 192 - 10 <= bottom < 192
    assert not captioned[:top].any()  # nothing above the box changed
    ink = np.argwhere((captioned < 100).all(axis=2) & (np.arange(256)[None, :] >= left) & (np.arange(256)[None, :] <= right)
                      & (np.arange(192)[:, None] >= top) & (np.arange(192)[:, None] <= bottom))
    assert ink.size  # the text is drawn dark inside the box


def test_caption_over_a_picture_keeps_the_picture_above_the_box():
    picture = panel(3, (128, 96))
    captioned = caption_panel(picture, "Two friends at the harbour, waiting for the evening ferry")
    rows = changed_rows(picture, captioned)
    assert rows.size and rows.max() < 96
    assert (pixels(captioned)[: rows.min()] == pixels(picture)[: rows.min()]).all()


def test_a_long_caption_wraps_into_a_taller_box():
    black = Image.new("RGB", (200, 300), "black")
    short = changed_rows(black, caption_panel(black, "Morning"))
    long = changed_rows(black, caption_panel(black, "Morning comes slowly over the quiet town and the harbour"))
    assert long.min() < short.min() and long.max() == short.max()


def test_empty_caption_changes_nothing():
    picture = panel(1)
    assert caption_panel(picture, "").tobytes() == picture.tobytes()
    assert caption_panel(picture, "  ").tobytes() == picture.tobytes()


def test_explicit_font_size():
    white = Image.new("RGB", (256, 256), "white")
    small = changed_rows(white, caption_panel(white, "Hello", font_size=10))
    large = changed_rows(white, caption_panel(white, "Hello", font_size=40))
    assert large.min() < small.min()
    with pytest.raises(ValueError, match="at least 1"):
        caption_panel(white, "Hello", font_size=0)


# -- drawing ------------------------------------------------------------------------------------

def assert_framed(page: np.ndarray, x: int, y: int, picture: Image.Image) -> None:
    """A bordered panel at (x, y): a white frame BORDER px wide around the picture itself."""
    width, height = picture.size
    outer = page[y: y + height + 2 * BORDER, x: x + width + 2 * BORDER]
    assert outer.shape[:2] == (height + 2 * BORDER, width + 2 * BORDER)
    assert (outer[:BORDER] == 255).all() and (outer[-BORDER:] == 255).all()
    assert (outer[:, :BORDER] == 255).all() and (outer[:, -BORDER:] == 255).all()
    assert (outer[BORDER:-BORDER, BORDER:-BORDER] == pixels(picture)).all()


def test_four_panel_pages_frame_every_panel_and_pad_with_white():
    images = panels(5, (64, 48))
    pages = four_panel_pages(images, [""] * 5)
    assert [page.size for page in pages] == [(168, 136), (168, 136)]
    first, second = (pixels(page) for page in pages)
    for slot in range(4):
        assert_framed(first, 84 * (slot % 2), 68 * (slot // 2), images[slot])
    assert_framed(second, 0, 0, images[4])
    assert (second[:, 84:] == 255).all() and (second[68:] == 255).all()  # three blank panels


def test_four_panel_captions_every_panel():
    images = panels(4, (128, 128))
    captions = ["One", "Two", "Three", "Four"]
    page = pixels(four_panel_pages(images, captions)[0])
    plain = pixels(four_panel_pages(images, [""] * 4)[0])
    for slot in range(4):
        x, y = 148 * (slot % 2) + BORDER, 148 * (slot // 2) + BORDER
        cell, bare = page[y: y + 128, x: x + 128], plain[y: y + 128, x: x + 128]
        assert (cell[:64] == bare[:64]).all()  # the top of the panel is the picture
        assert (cell[96:] != bare[96:]).any()  # the caption is at the bottom
    assert (page[:BORDER] == 255).all()


def cell_offsets(row) -> list[int]:
    offsets, x = [], 0
    for cell in row:
        offsets.append(x)
        x += 84 if cell.captioned else 42
    return offsets


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_classic_page_places_panels_as_planned(seed):
    images = panels(7)
    (page_image,) = classic_comic_pages(images, [""] * 7, random.Random(seed))
    (page,) = classic_comic_plan(7, random.Random(seed))
    assert page_image.size == (210, 168)  # two strips of 4: 2.5 bordered panels wide, one high
    drawn = pixels(page_image)
    for number, row in enumerate(page):
        for cell, x in zip(row, cell_offsets(row), strict=True):
            y = 84 * number
            if cell.captioned:
                picture = images[cell.panels[0]] if cell.panels[0] is not None else Image.new("RGB", (64, 64), "white")
                assert_framed(drawn, x, y, picture)
            else:  # two half-size panels: 42 x 42 each, a 5 px border, the right panel in each half
                for half, index in enumerate(cell.panels):
                    centre = drawn[y + 42 * half + 21, x + 21]
                    expected = (255, 255, 255) if index is None else pixels(images[index])[32, 32]
                    assert np.abs(centre - expected).max() <= 6


def test_classic_page_scales_strips_of_six_to_the_strips_of_four():
    (page,) = classic_comic_pages(panels(9), [""] * 9, random.Random(0))
    assert page.size == (210, 84 + 70)  # a strip of 6 is 252 x 84, scaled to 210 wide


def test_classic_captions_full_panels_only():
    images = panels(4, (128, 128))
    captions = ["Alpha", "Beta", "Gamma", "Delta"]
    (plan,) = classic_comic_plan(4, random.Random(5))
    (captioned,) = classic_comic_pages(images, captions, random.Random(5))
    (plain,) = classic_comic_pages(images, [""] * 4, random.Random(5))
    difference = (pixels(captioned) != pixels(plain)).any(axis=2)
    x = 0
    for cell in plan[0]:
        width = 148 if cell.captioned else 74
        region = difference[:, x: x + width]
        if cell.captioned:
            assert region[BORDER + 96: BORDER + 128].any() and not region[: BORDER + 64].any()
        else:
            assert not region.any()
        x += width


def test_same_seed_same_page_bytes():
    images, captions = panels(12), [f"panel {index}" for index in range(12)]
    first = classic_comic_pages(images, captions, random.Random(11))
    again = classic_comic_pages(images, captions, random.Random(11))
    assert [page.tobytes() for page in first] == [page.tobytes() for page in again]
    others = {classic_comic_pages(images, captions, random.Random(seed))[0].tobytes() for seed in range(6)}
    assert len(others) > 1


def test_pages_of_one_call_share_a_size():
    pages = pad_to_common_size([Image.new("RGB", (30, 20), "black"), Image.new("RGB", (20, 40), "black")])
    assert [page.size for page in pages] == [(30, 40), (30, 40)]
    first = pixels(pages[0])
    assert not first[:20, :30].any() and (first[20:] == 255).all()
    second = pixels(pages[1])
    assert not second[:, :20].any() and (second[:, 20:] == 255).all()
    assert all(len({page.size for page in four_panel_pages(panels(count), [""] * count)}) == 1 for count in (5, 9))


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="no images"):
        four_panel_pages([], [])
    with pytest.raises(ValueError, match="3 images but 2 captions"):
        classic_comic_pages(panels(3), ["a", "b"], random.Random(0))
    with pytest.raises(ValueError, match="64x48, 64x64"):
        four_panel_pages([panel(0), panel(1, (64, 48))], ["", ""])


def test_layouts_by_name():
    assert set(LAYOUTS) == {"Four Panel", "Classic Comic"}
    images, captions = panels(5), [""] * 5
    assert [page.tobytes() for page in LAYOUTS["Four Panel"](images, captions, random.Random(0))] == [
        page.tobytes() for page in four_panel_pages(images, captions)]
    assert LAYOUTS["Classic Comic"](images, captions, random.Random(4))[0].tobytes() == \
        classic_comic_pages(images, captions, random.Random(4))[0].tobytes()
