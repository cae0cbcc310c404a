"""Weights file -> RifeFlowNet: read safely, recognise the layout from the keys, refuse anything else in a sentence.

The published ``flownet.pkl`` (ControlVideo's ``checkpoints/``, RIFE HDv3) is ``torch.save`` of a
DistributedDataParallel state dict: every key starts with ``module.``, and besides the three
inference blocks it holds the training-only teacher ``block_tea``. Accepted here: that file,
the same keys without the prefix or without the teacher, and a .safetensors copy of either.
``.pkl/.pth/.pt/.ckpt/.bin`` files are opened with ``torch.load(weights_only=True)`` only, after
``weight_files`` has named what else the file may be (a Git LFS pointer, an error page, a damaged archive).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from ...weight_files import UnusableWeights, load_weights_only, reject_text_stand_in
from .ifnet import RifeFlowNet

WRAPPER_PREFIX = "module."  # DistributedDataParallel's, on every key of the published file
TEACHER_PREFIX = "block_tea."  # the distillation teacher: training only
SAFETENSORS_SUFFIXES = (".safetensors", ".sft")
WHAT = "RIFE IFNet HDv3 (ControlVideo's checkpoints/flownet.pkl)"
FIX = "Put ControlVideo's checkpoints/flownet.pkl (RIFE HDv3, about 12 MB) in models/rife and pick it"
REDOWNLOAD = "Download flownet.pkl again (check its size against the source) and replace this file"
# Keys that tell other files apart, for a message that says what the file is.
OTHER_KINDS = (
    ("convblock.0.beta", "a RIFE 4.x flownet.pkl (Practical-RIFE), a different network"),
    ("lastconv.", "a RIFE 4.x flownet.pkl (Practical-RIFE), a different network"),
    (".res0.conv1.", "an older RIFE (HD / HDv2) flownet.pkl, a different network"),
    ("model.diffusion_model.", "a Stable Diffusion checkpoint"),
    ("control_model.", "a ControlNet"),
    ("motion_modules.", "an AnimateDiff motion module"),
)


class RifeFileError(ValueError):
    """The file cannot be used as RIFE HDv3 weights; the message names the file, the problem and the fix."""

    def __init__(self, path: str | Path, problem: str, fix: str = FIX) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {problem}. {fix}.")


def load_rife(path: str | Path) -> RifeFlowNet:
    """The network with the file's weights, float32, on the CPU, in eval mode without gradients."""
    network = RifeFlowNet()
    network.load_state_dict(inference_weights(read_tensors(path), network.state_dict(), path))
    return network.eval().requires_grad_(False)


def inference_weights(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: str | Path) -> dict[str, torch.Tensor]:
    """The file's tensors renamed to ``expected``'s keys (prefix and teacher removed), or a RifeFileError saying why not."""
    if not tensors:
        raise RifeFileError(path, "the file holds no tensors, so it is not model weights")
    if any(key.startswith(WRAPPER_PREFIX) for key in tensors):
        tensors = {key.removeprefix(WRAPPER_PREFIX): value for key, value in tensors.items()}
    weights = {key: value for key, value in tensors.items() if not key.startswith(TEACHER_PREFIX)}
    missing = [key for key in expected if key not in weights]
    unexpected = [key for key in weights if key not in expected]
    if missing or unexpected:
        raise RifeFileError(path, f"the file is {_kind(tensors)}, not {WHAT}: {_key_report(missing, unexpected, len(expected))}")
    wrong = [f"{key} {list(weights[key].shape)} (expected {list(expected[key].shape)})"
             for key in expected if weights[key].shape != expected[key].shape]
    if wrong:
        raise RifeFileError(path, f"the file has the keys of RIFE IFNet HDv3 but {_count(wrong, 'tensor')} of other shapes, "
                                  f"e.g. {', '.join(wrong[:3])}")
    return {key: weights[key].float() for key in expected}


def _kind(tensors: dict[str, torch.Tensor]) -> str:
    for marker, kind in OTHER_KINDS:
        if any(marker in key for key in tensors):
            return kind
    return "another model or an incomplete copy"


def _key_report(missing: list[str], unexpected: list[str], total: int) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} of the {total} expected keys {'is' if len(missing) == 1 else 'are'} missing "
                     f"(e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{_count(unexpected, 'key')} {'is' if len(unexpected) == 1 else 'are'} not RIFE's (e.g. {', '.join(unexpected[:3])})")
    return " and ".join(parts)


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor in the file by name, on the CPU; non-tensor entries are left out."""
    path = Path(path)
    if not path.is_file():
        raise RifeFileError(path, "the file does not exist", "Check the file name and the models/rife folder")
    with path.open("rb") as f:
        head = f.read(64)
    if not head:
        raise RifeFileError(path, "the file is empty (0 bytes), so the download or copy failed", REDOWNLOAD)
    if head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<":
        raise RifeFileError(path, "the file is a web page (HTML), not weights: the download saved a page instead of the file",
                            "Download the file itself (on GitHub the 'raw' / download link, not the page) and replace this one")
    try:
        reject_text_stand_in(path)  # a Git LFS pointer or a JSON error page saved in place of the weights
    except UnusableWeights as exc:
        raise RifeFileError(path, exc.problem, exc.fix or REDOWNLOAD) from exc
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own error type for every kind of damage
            raise RifeFileError(path, f"the safetensors file is damaged or incomplete ({exc})", REDOWNLOAD) from exc
    raw = _load_weights_only(path)
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise RifeFileError(path, f"the file holds a {type(raw).__name__}, not a dict of weights")
    return {key: value for key, value in raw.items() if isinstance(key, str) and isinstance(value, torch.Tensor)}


def _load_weights_only(path: Path) -> object:
    """The unpickled file, tensors and plain containers only: nothing in it is executed."""
    try:
        return load_weights_only(path)
    except UnusableWeights as exc:
        raise RifeFileError(path, exc.problem, exc.fix or REDOWNLOAD) from exc
