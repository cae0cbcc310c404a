"""ComfyUI's V3 node schema, imported in one place so an API change touches one file.

``comfy_api.latest`` is marked unstable; the versioned ``comfy_api.v0_0_2`` (in ComfyUI
0.3.75, 0.8.0 and later releases) re-exports the same ``io``/``ui``/``ComfyExtension`` under a
version ComfyUI keeps. Checked on 0.3.75 and 0.8.0; a host without it gets ``latest``.
"""

try:
    from comfy_api.v0_0_2 import ComfyExtension, io, ui
except ImportError:  # a ComfyUI older than the versioned APIs
    from comfy_api.latest import ComfyExtension, io, ui

__all__ = ["ComfyExtension", "io", "ui"]
