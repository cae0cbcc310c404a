"""Comic typesetting of StoryDiffusion panels with Pillow, in plain Python (no ComfyUI import).

Planning is kept apart from drawing so the layouts can be checked exactly: a plan is a list
of pages, a page a tuple of rows (top to bottom), a row a tuple of :class:`Cell` (left to
right). The two layouts of StoryDiffusion's demo:

**Four Panel** (the demo's "Four Pannel"): every panel gets its caption and a 10 px white
border; panels go four to a page, 2x2 in reading order; the last page is filled up with
blank white panels, so the panel count is padded to a multiple of 4.

**Classic Comic** (the demo's "Classic Comic Style"): every panel gets a 10 px white border.
Panels are cut, in order, into groups: all of 4 when there are at most 8 panels, else
alternately 4, 6, 4, 6, ... The last group keeps the size its turn gives it (5 panels left on
a turn of 6 make a group of 6, one of them blank) unless fewer than 4 panels are left, which
make a group of 4; blank white panels fill it up. Each group is one horizontal strip whose
columns are a shuffle of [1, 1, 2] (group of 4) or [1, 1, 2, 2] (group of 6): a 1 is one
full-size panel with its caption, a 2 is two panels shrunk to half size and stacked, without
captions (as in the reference, their captions are dropped). Panels fill the columns left to
right, top before bottom in a stack. A strip is one bordered panel high; a strip of 4 is 2.5
panels wide and one of 6 is 3, so the strips of 6 are scaled down (aspect kept) to the width
of the strips of 4. All strips stack into one tall page, as the reference makes it.

Where this differs from the reference on purpose: the caption is drawn on the panel before
its border is added (the box never covers the border), blank panels are white and as large as
a bordered panel (the reference pastes an unbordered picture and leaves black gaps), and the
font is Pillow's built-in scalable font, sized with the panel (the reference: a 45 px TrueType
font on 768 px panels). All pages of one call have the same size, as a ComfyUI IMAGE batch
needs: a smaller page is padded with white at the bottom and right. Randomness comes only from
the ``random.Random`` passed in, so one seed gives the same pages.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

BORDER = 10  # px of white around every full-size panel
CAPTION_ALPHA = 200  # opacity of the white box behind a caption
WHITE = (255, 255, 255)
_REFERENCE_FONT = (45, 768)  # the reference's font size on its default panel size
_MIN_FONT_SIZE = 8
_GROUP_COLUMNS = {4: (1, 1, 2), 6: (1, 1, 2, 2)}  # Classic Comic: panels per column before the shuffle


@dataclasses.dataclass(frozen=True)
class Cell:
    """One place in a row: a full-size panel, or two half-size panels stacked (top first).

    A panel is its index in the caller's list; ``None`` is a blank white padding panel.
    Only a full-size panel carries a caption.
    """

    panels: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if len(self.panels) not in (1, 2):
            raise ValueError(f"a cell holds one panel or two stacked panels, not {len(self.panels)}")

    @property
    def stacked(self) -> bool:
        return len(self.panels) == 2

    @property
    def captioned(self) -> bool:
        return not self.stacked


Row = tuple[Cell, ...]
Page = tuple[Row, ...]
Layout = Callable[[Sequence[Image.Image], Sequence[str], random.Random], list[Image.Image]]


# -- plans --------------------------------------------------------------------------------------

def _panel_index(index: int, count: int) -> int | None:
    return index if index < count else None  # past the real panels: padding


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError(f"a comic needs at least one panel, got {count}")


def four_panel_plan(count: int) -> list[Page]:
    """Pages of 2x2 captioned panels in reading order; the last page padded with blank panels."""
    _check_count(count)
    pages = []
    for first in range(0, count, 4):
        cells = [Cell((_panel_index(first + k, count),)) for k in range(4)]
        pages.append(((cells[0], cells[1]), (cells[2], cells[3])))
    return pages


def classic_group_sizes(count: int) -> list[int]:
    """Classic Comic's group sizes, blank panels included (their sum minus ``count`` is the padding)."""
    _check_count(count)
    turns = (4,) if count <= 8 else (4, 6)
    sizes: list[int] = []
    remaining = count
    while remaining > 0:
        size = turns[len(sizes) % len(turns)]
        if remaining < min(turns):  # too few left for any group: a group of 4 takes them
            size = min(turns)
        sizes.append(size)
        remaining -= size
    return sizes


def classic_comic_plan(count: int, rng: random.Random) -> list[Page]:
    """One page: a strip per group, its columns a shuffle of [1, 1, 2] or [1, 1, 2, 2] drawn from ``rng``."""
    rows: list[Row] = []
    start = 0
    for size in classic_group_sizes(count):
        columns = list(_GROUP_COLUMNS[size])
        rng.shuffle(columns)
        row = []
        for panels in columns:
            row.append(Cell(tuple(_panel_index(index, count) for index in range(start, start + panels))))
            start += panels
        rows.append(tuple(row))
    return [tuple(rows)]


# -- captions -----------------------------------------------------------------------------------

def caption_font_size(panel_size: tuple[int, int]) -> int:
    """The caption's font size for a panel: the reference's 45 px per 768 px, on the shorter side."""
    size, reference_panel = _REFERENCE_FONT
    return max(_MIN_FONT_SIZE, round(min(panel_size) * size / reference_panel))


def _width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> float:
    return font.getlength(text)


def _split_long_word(word: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: float) -> list[str]:
    """Pieces of a word too wide for a line, each as long as fits (at least one character, so it ends)."""
    pieces, piece = [], ""
    for char in word:
        if piece and _width(font, piece + char) > max_width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece]


def wrap_caption(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: float) -> list[str]:
    """Greedy word wrap: as many words per line as fit in ``max_width`` px; a word wider than a line is split.

    A single character wider than ``max_width`` still gets its own line (nothing narrower exists).
    """
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if _width(font, candidate) <= max_width:
            line = candidate
            continue
        if line:
            lines.append(line)
        *full, line = _split_long_word(word, font, max_width) if _width(font, word) > max_width else [word]
        lines.extend(full)
    if line:
        lines.append(line)
    return lines


@dataclasses.dataclass(frozen=True)
class _CaptionGeometry:
    """Spacing scaled with the font size, so a caption looks the same at any panel size."""

    padding: int  # inside the box, around the text
    margin: int  # between the box and the panel's bottom and sides
    line_gap: int

    @classmethod
    def for_font_size(cls, size: int) -> _CaptionGeometry:
        return cls(padding=max(3, size // 4), margin=max(2, size // 3), line_gap=max(1, size // 5))


def caption_panel(image: Image.Image, caption: str, font_size: int | None = None) -> Image.Image:
    """The panel with its caption bottom-centred: black text on a white box of opacity 200, composited.

    The caption is wrapped to the panel's width; ``font_size`` defaults to
    :func:`caption_font_size`. An empty caption returns an unchanged (RGB) copy. A caption taller
    than the panel is clipped at the top. Only the box's rows change: the panel above stays as is.
    """
    panel = image.convert("RGB")
    if not caption.strip():
        return panel.copy()
    size = font_size if font_size is not None else caption_font_size(panel.size)
    if size < 1:
        raise ValueError(f"font size must be at least 1, got {size}")
    font = ImageFont.load_default(size=size)
    spacing = _CaptionGeometry.for_font_size(size)
    lines = wrap_caption(caption, font, max(1, panel.width - 2 * (spacing.padding + spacing.margin)))
    ascent, descent = font.getmetrics()
    line_height = ascent + descent
    text_width = max(round(_width(font, line)) for line in lines)
    box_width = text_width + 2 * spacing.padding
    box_height = len(lines) * line_height + (len(lines) - 1) * spacing.line_gap + 2 * spacing.padding
    left = (panel.width - box_width) // 2
    bottom = panel.height - spacing.margin  # exclusive
    top = bottom - box_height

    # The box is blended over the picture (alpha compositing), then the text drawn opaque on it.
    overlay = Image.new("RGBA", panel.size, (*WHITE, 0))
    ImageDraw.Draw(overlay).rectangle((left, top, left + box_width - 1, bottom - 1), fill=(*WHITE, CAPTION_ALPHA))
    captioned = Image.alpha_composite(panel.convert("RGBA"), overlay)
    draw = ImageDraw.Draw(captioned)
    centre = panel.width / 2
    for number, line in enumerate(lines):
        draw.text((centre, top + spacing.padding + number * (line_height + spacing.line_gap)), line,
                  fill=(0, 0, 0, 255), font=font, anchor="ma")  # "ma": centred, top at the ascender
    return captioned.convert("RGB")


# -- drawing ------------------------------------------------------------------------------------

def _check_panels(images: Sequence[Image.Image], captions: Sequence[str]) -> tuple[int, int]:
    if not images:
        raise ValueError("no images to typeset")
    if len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions: each panel needs one caption (it may be empty)")
    sizes = sorted({image.size for image in images})
    if len(sizes) > 1:
        raise ValueError(f"comic panels must all be the same size, got {', '.join(f'{w}x{h}' for w, h in sizes)}")
    return sizes[0]


def _bordered(image: Image.Image) -> Image.Image:
    return ImageOps.expand(image, border=BORDER, fill=WHITE)


def _hstack(images: Sequence[Image.Image]) -> Image.Image:
    canvas = Image.new("RGB", (sum(image.width for image in images), max(image.height for image in images)), WHITE)
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    return canvas


def _vstack_to_narrowest(images: Sequence[Image.Image]) -> Image.Image:
    """Images one under the other, each wider one scaled down (aspect kept) to the narrowest width."""
    width = min(image.width for image in images)
    fitted = [image if image.width == width else
              image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
              for image in images]
    canvas = Image.new("RGB", (width, sum(image.height for image in fitted)), WHITE)
    y = 0
    for image in fitted:
        canvas.paste(image, (0, y))
        y += image.height
    return canvas


def pad_to_common_size(pages: Sequence[Image.Image]) -> list[Image.Image]:
    """The pages padded with white at the bottom and right to the largest width and height among them."""
    width, height = max(page.width for page in pages), max(page.height for page in pages)
    padded = []
    for page in pages:
        if page.size != (width, height):
            canvas = Image.new("RGB", (width, height), WHITE)
            canvas.paste(page, (0, 0))
            page = canvas
        padded.append(page)
    return padded


def _cell_image(cell: Cell, panels: Sequence[Image.Image], captions: Sequence[str], size: tuple[int, int], font_size: int) -> Image.Image:
    pictures = [panels[index] if index is not None else Image.new("RGB", size, WHITE) for index in cell.panels]
    if cell.captioned:
        index = cell.panels[0]
        return _bordered(caption_panel(pictures[0], captions[index] if index is not None else "", font_size))
    # Two bordered panels one above the other, halved: as high as one bordered panel, half as wide.
    column = _vstack_to_narrowest([_bordered(picture) for picture in pictures])
    return column.resize((column.width // 2, column.height // 2), Image.Resampling.LANCZOS)


def draw_plan(plan: Sequence[Page], images: Sequence[Image.Image], captions: Sequence[str]) -> list[Image.Image]:
    """Pages drawn from a plan: rows side by side at full scale, rows stacked at the narrowest row's width.

    Every page comes out the same size (see :func:`pad_to_common_size`).
    """
    size = _check_panels(images, captions)
    panels = [image.convert("RGB") for image in images]
    font_size = caption_font_size(size)  # one size for all captions of a comic
    pages = [_vstack_to_narrowest([_hstack([_cell_image(cell, panels, captions, size, font_size) for cell in row]) for row in page])
             for page in plan]
    return pad_to_common_size(pages)


def four_panel_pages(images: Sequence[Image.Image], captions: Sequence[str]) -> list[Image.Image]:
    """Four Panel pages (2x2, captions on all, padded with blank panels): each (2W + 40) x (2H + 40) px."""
    _check_panels(images, captions)
    return draw_plan(four_panel_plan(len(images)), images, captions)


def classic_comic_pages(images: Sequence[Image.Image], captions: Sequence[str], rng: random.Random) -> list[Image.Image]:
    """The Classic Comic page (one tall page of strips; see the module docstring), shuffled by ``rng``."""
    _check_panels(images, captions)
    return draw_plan(classic_comic_plan(len(images), rng), images, captions)


def _four_panel_layout(images: Sequence[Image.Image], captions: Sequence[str], rng: random.Random) -> list[Image.Image]:
    return four_panel_pages(images, captions)  # no randomness in this layout


LAYOUTS: dict[str, Layout] = {"Four Panel": _four_panel_layout, "Classic Comic": classic_comic_pages}
