"""PhotoMaker: core's PhotoMakerEncode, called as the node it registers, for one prompt at a time.

Checked on ComfyUI 0.3.75 and 0.8.0: ``PhotoMakerEncode`` (a V3 node, ``execute(photomaker,
image, clip, text)``) finds the trigger word ``photomaker`` among the prompt's space-separated
words, drops it from the tokens and fuses the ID image's embedding into the token before it;
without the word it returns the plain text conditioning. Its fuse MLP takes SDXL's
2048-wide prompt embeddings (CLIP-L and CLIP-G together).
"""

from __future__ import annotations

import re

import torch

TRIGGER = "photomaker"
EMBEDDING_WIDTH = 2048


def encode_with_identity(photomaker, image: torch.Tensor, clip, text: str) -> tuple[torch.Tensor, dict]:
    """(cond [1, 77*k, 2048], {"pooled_output": ...}) with the ID image fused at the trigger word."""
    import nodes

    encode = nodes.NODE_CLASS_MAPPINGS["PhotoMakerEncode"]
    (conditioning,) = encode.execute(photomaker, image, clip, text).args
    cond, extras = conditioning[0]
    return cond, extras


def fits_its_mask(clip, text: str) -> bool:
    """Whether ``text`` tokenizes into one 77-token chunk: core's encoder masks the trigger in the first 77 tokens only."""
    return all(len(chunks) == 1 for chunks in clip.tokenize(text).values())


def has_trigger(text: str) -> bool:
    return re.search(rf"\b{TRIGGER}\b", text) is not None


def spaced_trigger(text: str) -> str:
    """``text`` with the trigger word standing alone between spaces (core looks it up by ``text.split(" ")``)."""
    return " ".join(re.sub(rf"\b{TRIGGER}\b", f" {TRIGGER} ", text).split())


def without_trigger(text: str) -> str:
    """``text`` with the trigger word removed (the text-only prompt of PhotoMaker's first steps)."""
    return " ".join(re.sub(rf"\b{TRIGGER}\b", " ", text).split())
