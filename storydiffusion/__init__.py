"""StoryDiffusion's pure parts: story prompts, style templates, comic layout, bank sizing."""

from __future__ import annotations

from .bank_size import SD15_LAYERS, SDXL_LAYERS, expected_bank_bytes
from .comic import LAYOUTS, classic_comic_pages, four_panel_pages
from .roles import story_roles
from .story import NO_CHARACTER, Panel, Story, StoryError, parse_story
from .styles import STYLES, apply_style

__all__ = ["LAYOUTS", "NO_CHARACTER", "SD15_LAYERS", "SDXL_LAYERS", "STYLES", "Panel", "Story", "StoryError", "apply_style",
           "classic_comic_pages", "expected_bank_bytes", "four_panel_pages", "parse_story", "story_roles"]
