"""ComfyUI's V3 node schema, imported in one place so an API change touches one file."""

from comfy_api.latest import ComfyExtension, io, ui

__all__ = ["ComfyExtension", "io", "ui"]
