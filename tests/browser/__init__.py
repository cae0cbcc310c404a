"""Tests in the real ComfyUI web frontend (a package, so its shared server stops when they are done)."""
