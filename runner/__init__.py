"""Headless execution of ComfyUI workflows: in this process, or on ComfyUI servers."""
