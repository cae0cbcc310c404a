"""A metric's mean against one sweep parameter's values, one line per setting of the other parameters (Pillow only).

The x axis is categorical (the values in sweep order: seeds, effects, prompts), so a
text-valued parameter plots as well as a number. Same input, same pixels.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT, LEGEND_ROW = 480, 280, 12
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40
PALETTE = ((31, 97, 180), (214, 95, 0), (44, 160, 44), (200, 40, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194),
           (90, 90, 90))
INK, GRID = (0, 0, 0), (205, 205, 205)


def _label(value: object, limit: int = 14) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "~"


def sweep_plot(title: str, x_name: str, x_values: list, series: dict[str, list[float | None]]) -> Image.Image:
    """``series``: legend label -> one mean per x value (None where no job measured it)."""
    legend = list(series)[: len(PALETTE)]
    left_out = len(series) - len(legend)  # more lines than colours: said under the legend, never dropped silently
    height = HEIGHT + LEGEND_ROW * (len(legend) + bool(left_out))
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    values = [v for label in legend for v in series[label] if v is not None and math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.1 or max(abs(high) * 0.05, 1e-6)
    y_min, y_max = low - pad, high + pad

    def to_x(index: int) -> float:
        return (left + right) / 2 if len(x_values) == 1 else left + (right - left) * index / (len(x_values) - 1)

    def to_y(value: float) -> float:
        return bottom - (bottom - top) * (value - y_min) / (y_max - y_min)

    for value in {low, high}:
        y = round(to_y(value))
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 6, y), f"{value:.4g}", fill=INK, font=font, anchor="rm")
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=INK)
    step = max(1, math.ceil(len(x_values) / 8))  # at most about 8 labels under the axis
    for index in range(0, len(x_values), step):
        x = round(to_x(index))
        draw.line([(x, bottom), (x, bottom + 4)], fill=INK)
        draw.text((x, bottom + 6), _label(x_values[index]), fill=INK, font=font, anchor="mt")
    draw.text(((left + right) / 2, bottom + 22), _label(x_name, 40), fill=INK, font=font, anchor="mt")
    for number, label in enumerate(legend):
        colour = PALETTE[number]
        points = [(round(to_x(i)), round(to_y(v))) for i, v in enumerate(series[label]) if v is not None and math.isfinite(v)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([(x - 3, y - 3), (x + 3, y + 3)], fill=colour)
        row = HEIGHT + LEGEND_ROW * number
        draw.rectangle([(left, row + 2), (left + 10, row + 9)], fill=colour)
        draw.text((left + 16, row), _label(label, 60), fill=INK, font=font, anchor="lt")
    if left_out:
        draw.text((left, HEIGHT + LEGEND_ROW * len(legend)), f"+{left_out} more settings not drawn (see the table)",
                  fill=INK, font=font, anchor="lt")
    draw.text((WIDTH / 2, 6), title, fill=INK, font=font, anchor="mt")
    return image
