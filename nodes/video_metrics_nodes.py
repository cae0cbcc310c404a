"""Video consistency metrics: flow warping error, adjacent-frame SSIM and CLIP consistency of an IMAGE batch."""

from __future__ import annotations

import torch

from ..comfy_glue import clip_vision as clip_vision_glue
from ..video_metrics import measure_video, metric_plots
from .schema import io, ui

CATEGORY = "Kinema/Video Metrics"
NAME = "Video Consistency Metrics"


class VideoConsistencyMetrics(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaVideoConsistencyMetrics",
            display_name="Video Consistency Metrics (Kinema)",
            category=CATEGORY,
            description=(
                "How steady a video is, from its frames alone, comparing each frame with the next: the flow warping error "
                "(frame t moved along DIS optical flow onto frame t+1, mean absolute difference over pixels the "
                "forward-backward check keeps; lower is steadier), SSIM of adjacent frames (1 = identical; a steady pan "
                "scores lower) and, with a CLIP vision model, the cosine similarity of consecutive frames' image "
                "embeddings. Outputs the means, a plot per metric over the frame pairs and a JSON summary with every "
                "per-pair value; the means also show on the node. Runs on the CPU except the CLIP model."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The video's frames in order, as one IMAGE batch (at least 2 frames of "
                                                 "11 x 11 px or more), e.g. from VAE Decode or Load Video."),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="Optional: a CLIP vision model (core Load CLIP Vision) for CLIP consistency. Each "
                                            "whole frame is squashed to the model's square input. Without it, "
                                            "clip_consistency is not measured."),
            ],
            outputs=[
                io.Float.Output(display_name="warp_error",
                                tooltip="Mean flow warping error over the adjacent pairs (RGB in 0..1; 0 = perfectly steady)."),
                io.Float.Output(display_name="ssim", tooltip="Mean SSIM of adjacent frames (1 = identical frames)."),
                io.Float.Output(display_name="clip_consistency",
                                tooltip="Mean cosine similarity of consecutive frames' CLIP image embeddings (1 = same content). "
                                        "0.0 when no CLIP vision model is connected: not measured (the summary says null)."),
                io.Image.Output(display_name="plots",
                                tooltip="One plot per measured metric over the frame pairs, as a batch: warp error, SSIM, "
                                        "then CLIP consistency when measured."),
                io.String.Output(display_name="summary",
                                 tooltip="JSON: the means, every per-pair value (pair t = frames t and t+1), the share of "
                                         "pixels the warp error was measured on, and how each metric is computed."),
            ],
            is_output_node=True,  # shows its numbers on the node even with nothing connected to its outputs
        )

    @classmethod
    def execute(cls, images: torch.Tensor, clip_vision=None) -> io.NodeOutput:
        embed = None if clip_vision is None else clip_vision_glue.image_embedder(clip_vision)
        try:
            metrics = measure_video(images, embed)
        except ValueError as error:
            raise ValueError(f"{NAME}: {error}") from None
        # [P, H, W, 3] uint8 -> IMAGE floats in 0..1
        plots = torch.from_numpy(metric_plots(metrics)).float() / 255.0
        clip = metrics.mean_clip_consistency
        return io.NodeOutput(metrics.mean_warp_error, metrics.mean_ssim, 0.0 if clip is None else clip, plots,
                             metrics.to_json(), ui=ui.PreviewText(metrics.to_text()))


NODES = [VideoConsistencyMetrics]
