"""StoryDiffusion's nine style templates: a positive template around the panel prompt and a negative prompt.

The names and their order are the reference app's; the wording is this pack's own.
"""

from __future__ import annotations

from types import MappingProxyType

# name -> (positive template with one "{prompt}", negative prompt); read-only so no caller can change a style for everyone.
STYLES: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "(No style)": ("{prompt}", ""),
    "Japanese Anime": (
        "anime illustration of {prompt}, Japanese animation style, clean cel shading, crisp line work, vivid colors, "
        "expressive eyes, detailed painted background, key visual",
        "photograph, photorealistic, 3d render, realistic skin, western cartoon, sketch, blurry, low quality, deformed, extra limbs",
    ),
    "Digital/Oil Painting": (
        "{prompt}, oil painting on canvas, expressive visible brushstrokes, rich layered paint, painterly light and shadow, "
        "warm color harmony, fine art, highly detailed",
        "photograph, photo, 3d render, cgi, anime, cartoon, flat colors, lowres, blurry, jpeg artifacts, watermark, text",
    ),
    "Pixar/Disney Character": (
        "3D animated movie still of {prompt}, Pixar and Disney feature animation style, appealing stylized character, "
        "large expressive eyes, soft global illumination, subsurface scattering, vibrant colors, cinematic lighting",
        "photograph, photorealistic, realistic skin pores, 2d, flat shading, sketch, anime, grainy, lowres, ugly, deformed",
    ),
    "Photographic": (
        "cinematic photograph of {prompt}, 35mm lens, shallow depth of field, natural light, sharp focus, "
        "highly detailed, realistic textures, subtle film grain",
        "drawing, painting, illustration, cartoon, anime, 3d render, cgi, sketch, oversaturated, blurry, lowres, deformed",
    ),
    "Comic book": (
        "comic book panel of {prompt}, bold inked outlines, graphic novel illustration, halftone shading, "
        "vivid flat colors, dynamic composition, detailed",
        "photograph, photorealistic, realistic, 3d render, blurry, washed out colors, lowres, deformed, watermark",
    ),
    "Line art": (
        "line art drawing of {prompt}, clean black ink lines on a white background, precise contours, minimalist, "
        "professional linework, vector illustration",
        "color, colored, shading, gradient, photograph, photorealistic, 3d render, painting, noisy, blurry, messy lines",
    ),
    "Black and White Film Noir": (
        "black and white film noir still of {prompt}, monochrome, high contrast chiaroscuro lighting, deep shadows, "
        "1940s crime drama, moody, tense atmosphere, film grain",
        "color, colorful, vibrant, saturated, bright daylight, cartoon, anime, painting, 3d render, lowres",
    ),
    "Isometric Rooms": (
        "isometric 3D render of {prompt}, cutaway room diorama, cozy miniature interior, soft even lighting, "
        "clean pastel colors, detailed furniture, orthographic view",
        "photograph, realistic, perspective distortion, fisheye, cluttered, blurry, deformed, text, watermark, lowres",
    ),
})


def apply_style(name: str, prompt: str, negative: str = "") -> tuple[str, str]:
    """(positive, negative) for ``prompt`` in style ``name``: the template filled in, and the style's negative joined
    with ``negative`` by ", " (either alone when the other is empty)."""
    if name not in STYLES:
        raise ValueError(f"Unknown style {name!r}; choose one of: {', '.join(repr(style) for style in STYLES)}.")
    template, style_negative = STYLES[name]
    # replace, not str.format: a prompt may contain braces of its own.
    positive = template.replace("{prompt}", prompt)
    return positive, ", ".join(part for part in (style_negative, negative) if part)
