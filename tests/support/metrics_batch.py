"""A small batch with --metrics that needs no model: the sample orbit clip, blurred by a sweep, saved as mp4 videos."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import torch

ORBIT_VIDEO = "kinema_sample_orbit.mp4"  # written into the host's input folder by --stand-ins (fixtures.sample_inputs)
BLUR_SWEEP = ["--sweep", "blur_radius=[1,6]", "--sweep", "sigma=[0.5,4.0]"]


def blur_workflow(folder: Path) -> Path:
    """Load Video -> frames -> Image Blur -> Create Video -> Save Video (core nodes only)."""
    prompt = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": ORBIT_VIDEO}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": {"class_type": "ImageBlur", "inputs": {"image": ["2", 0], "blur_radius": 1, "sigma": 1.0}},
        "4": {"class_type": "CreateVideo", "inputs": {"images": ["3", 0], "fps": 8.0}},
        "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 0], "filename_prefix": "kinema/metrics", "format": "mp4",
                                                    "codec": "h264"}},
    }
    path = folder / "blur_orbit.json"
    path.write_text(json.dumps(prompt))
    return path


def short_clip_workflow(folder: Path, frames: int) -> Path:
    """Load Video -> its first ``frames`` frames -> Create Video -> Save Video (core nodes only)."""
    prompt = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": ORBIT_VIDEO}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": {"class_type": "ImageFromBatch", "inputs": {"image": ["2", 0], "batch_index": 0, "length": frames}},
        "4": {"class_type": "CreateVideo", "inputs": {"images": ["3", 0], "fps": 8.0}},
        "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 0], "filename_prefix": "kinema/short", "format": "mp4",
                                                    "codec": "h264"}},
    }
    path = folder / f"first_{frames}_frames.json"
    path.write_text(json.dumps(prompt))
    return path


def run_metrics_batch(comfy_host, home: Path, stand_ins, output: Path, workflow: Path | None = None,
                      options: tuple[str, ...] = (*BLUR_SWEEP, "--clip-vision", "none")) -> int:
    """A batch with --metrics into ``output`` (default: the blur workflow's four jobs, no CLIP); the command's exit code."""
    from kinema.runner import cli

    output.mkdir(parents=True, exist_ok=True)
    workflow = workflow or blur_workflow(output.parent)
    args = [str(workflow), *options, "--metrics", "--stand-ins", "--no-progress", "--output", str(output)]
    return cli.main(args, host=comfy_host, home=home, stand_ins=stand_ins)


def decoded_video(path: str) -> torch.Tensor:
    """A saved video's frames as an IMAGE batch [F, H, W, 3] in 0..1, decoded with PyAV."""
    with av.open(path) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return torch.from_numpy(np.stack(frames)).float() / 255.0  # F x [H, W, 3] uint8 -> [F, H, W, 3]
