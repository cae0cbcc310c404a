"""StoryDiffusion nodes: story prompts, consistent self-attention, a consistent character in a video, comic pages."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import torch
from PIL import Image

from ..comfy_glue import photomaker as photomaker_glue
from ..comfy_glue import text
from ..frame_attention import Bank, ConsistentSelfAttention, Role
from ..storydiffusion import LAYOUTS, STYLES, Story, StoryError, apply_style, parse_story, story_roles
from .frame_attention_binding import apply_feature
from .input_checks import checks_inputs, input_problem
from .schema import io

FEATURE_KEY = "kinema_storydiffusion"  # the consistent-attention feature's key in a model's frame attention
CATEGORY = "Kinema/StoryDiffusion"
StoryType = io.Custom("KINEMA_STORY")
CharacterBankType = io.Custom("KINEMA_CHARACTER_BANK")
CHARACTERS_TIP = "One character per line: [Name] description (text after # is ignored). Write [Name] in the story to use them."
STORY_TIP = ("One panel per line: a prompt naming characters as [Name], [NC] for a panel with no character, and #caption "
             "for the comic's caption. Each character's first id_length panels naming only them are its identity images.")


@dataclasses.dataclass(frozen=True)
class CharacterBank:
    """What Consistent Character needs from Consistent Self-Attention: its bank, the story and its settings."""

    bank: Bank | None
    story: Story
    strategy: ConsistentSelfAttention


def _parse(characters: str, story: str, id_length: int) -> Story:
    try:
        return parse_story(characters, story, id_length)
    except StoryError as error:
        raise ValueError(f"Story Prompts: {error}") from None


class StoryPrompts(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaStoryPrompts",
            display_name="Story Prompts (Kinema)",
            category=CATEGORY,
            description=(
                "StoryDiffusion's story: characters and one panel per line become one batch, a latent row and a prompt row "
                "per panel (names replaced by descriptions, the style applied), and the story plan Consistent "
                "Self-Attention and Comic Pages read. Errors name the line."
            ),
            inputs=[
                io.Clip.Input("clip", tooltip="The checkpoint's text encoder (SD1.5 or SDXL)."),
                io.String.Input("characters", multiline=True, default="[Mira] a young woman with short red hair, green coat",
                                tooltip=CHARACTERS_TIP),
                io.String.Input("story", multiline=True,
                                default="[Mira] reads a map at dawn #Mira sets out.\n[Mira] walks along a cliff path\n"
                                        "[Mira] waves from a boat #Far from home.\n[NC] a lighthouse in a storm #The storm comes.",
                                tooltip=STORY_TIP),
                io.Combo.Input("style", options=list(STYLES), default="Japanese Anime",
                               tooltip="A style template applied to every panel's prompt and to the negative prompt."),
                io.String.Input("negative", multiline=True, default="bad anatomy, bad hands, missing fingers, blurry, watermark",
                                tooltip="What no panel should show (the style adds its own)."),
                io.Int.Input("id_length", default=2, min=1, max=8,
                             tooltip="Identity images per character: its first panels naming only it, generated together. "
                                     "1 = ordinary generation for the identity panel; the reference uses 2-4."),
                io.Int.Input("width", default=768, min=64, max=4096, step=8, tooltip="Panel width in pixels (768 in the reference)."),
                io.Int.Input("height", default=768, min=64, max=4096, step=8, tooltip="Panel height in pixels."),
                io.Photomaker.Input("photomaker", optional=True,
                                    tooltip="Optional, SDXL only: a PhotoMaker model (core Load PhotoMaker). Every panel whose "
                                            "prompt holds the trigger word 'photomaker' (write it after the class word in a "
                                            "character's description: '[Ann] a woman photomaker, red coat') gets the ID image fused in."),
                io.Image.Input("photomaker_image", optional=True, tooltip="The ID photo for PhotoMaker (the person to keep)."),
                io.Float.Input("photomaker_start", default=0.2, min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip="Share of the schedule that uses the text alone before the ID-fused prompt takes over "
                                       "(the reference's 20%; with uniform-timestep schedulers such as ddim_uniform, the share of steps)."),
            ],
            outputs=[
                io.Conditioning.Output(display_name="positive", tooltip="One prompt per panel, in story order."),
                io.Conditioning.Output(display_name="negative", tooltip="The negative prompt with the style's."),
                io.Latent.Output(display_name="latent", tooltip="An empty latent with one image per panel."),
                StoryType.Output(display_name="story", tooltip="The parsed story for Consistent Self-Attention and Comic Pages."),
            ],
        )

    @classmethod
    def validate_inputs(cls, characters: str | None = None, story: str | None = None, id_length: int | None = None,
                        width: int | None = None, height: int | None = None, photomaker_start: float | None = None,
                        style: str | None = None) -> bool | str:
        # Named inputs only (ComfyUI skips its own checks for these, and for all given **kwargs): input_problem does them
        problem = input_problem(cls, id_length=id_length, width=width, height=height, photomaker_start=photomaker_start,
                                style=style)
        if problem:
            return problem
        for name, value in (("width", width), ("height", height)):
            if value is not None and value % 8:
                return f"Story Prompts: {name} {value} is not a multiple of 8; use {value - value % 8} or {value - value % 8 + 8}."
        if characters is None or story is None or id_length is None:
            return True  # linked inputs are checked when the node runs
        try:
            parse_story(characters, story, id_length)
        except StoryError as error:
            return f"Story Prompts: {error}"
        return True

    @classmethod
    @checks_inputs
    def execute(cls, clip, characters: str, story: str, style: str, negative: str, id_length: int, width: int,
                height: int, photomaker=None, photomaker_image: torch.Tensor | None = None,
                photomaker_start: float = 0.2) -> io.NodeOutput:
        parsed = _parse(characters, story, id_length)
        styled = [apply_style(style, panel.prompt, negative) for panel in parsed.panels]
        prompts = [prompt for prompt, _ in styled]
        if photomaker is None:
            positive = text.encode_prompts(clip, prompts)
        else:
            positive = _with_identity(clip, prompts, [panel.line for panel in parsed.panels], photomaker, photomaker_image,
                                      photomaker_start)
        negative_cond = text.encode_prompts(clip, [styled[0][1]])
        latent = torch.zeros(len(parsed.panels), 4, height // 8, width // 8)
        return io.NodeOutput(positive, negative_cond, {"samples": latent}, parsed)


def _with_identity(clip, prompts: list[str], lines: list[int], photomaker, image: torch.Tensor | None, start: float) -> list:
    """PhotoMaker as the reference composes it: the text alone for the first ``start`` of the schedule, then the prompts
    with the ID image fused in (both batched a row per panel)."""
    if image is None:
        raise ValueError("Story Prompts: a PhotoMaker model is connected but no photomaker_image; connect the ID photo "
                         "(Load Image) or disconnect the PhotoMaker model.")
    if not any(photomaker_glue.has_trigger(prompt) for prompt in prompts):
        raise ValueError(f"Story Prompts: PhotoMaker is connected but no panel's prompt holds the trigger word "
                         f"'{photomaker_glue.TRIGGER}'; write it after the class word in a character's description, e.g. "
                         f"'[Ann] a woman {photomaker_glue.TRIGGER}, red coat'.")
    text_only = [text.encode_prompt(clip, photomaker_glue.without_trigger(prompt)) for prompt in prompts]
    width = text_only[0][0].shape[-1]
    if width != photomaker_glue.EMBEDDING_WIDTH:
        raise ValueError(f"Story Prompts: PhotoMaker needs an SDXL checkpoint's text encoders ({photomaker_glue.EMBEDDING_WIDTH}-wide "
                         f"prompt embeddings); this CLIP gives {width}-wide ones. Use an SDXL checkpoint or disconnect PhotoMaker.")
    for prompt, line in zip(prompts, lines, strict=True):
        if photomaker_glue.has_trigger(prompt) and not photomaker_glue.fits_its_mask(clip, photomaker_glue.spaced_trigger(prompt)):
            raise ValueError(f"Story Prompts: with PhotoMaker, a prompt must fit in 75 tokens (core PhotoMakerEncode reads one "
                             f"77-token chunk); story line {line} with its style is longer. Shorten that line or the "
                             "character's description, or pick the style '(No style)'.")
    fused = [photomaker_glue.encode_with_identity(photomaker, image, clip, photomaker_glue.spaced_trigger(prompt)) for prompt in prompts]
    return [text.batch_rows(text_only, start_percent=0.0, end_percent=start),
            text.batch_rows(fused, start_percent=start, end_percent=1.0)]


class ConsistentSelfAttentionNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaConsistentSelfAttention",
            display_name="Consistent Self-Attention (Kinema)",
            category=CATEGORY,
            description=(
                "StoryDiffusion's consistent self-attention on the story's batch: in the decoder's self-attention at 1/32 and "
                "1/16 of the image, each identity image also attends to tokens sampled from its character's other identity "
                "images, and every later panel to the sampled tokens of the characters it names; [NC] panels stay ordinary. "
                "Draws come from the sampler's seed (same seed, same image). Sample the story's latent with one KSampler."
            ),
            inputs=[
                io.Model.Input("model", tooltip="An SD1.5 or SDXL model."),
                StoryType.Input("story", tooltip="From Story Prompts: which panel is whose identity image and who each panel names."),
                io.Float.Input("sa32", default=0.5, min=0.0, max=1.0, step=0.05,
                               tooltip="Share of tokens sampled from each identity image at the 1/32 grid (0 = ordinary attention)."),
                io.Float.Input("sa64", default=0.5, min=0.0, max=1.0, step=0.05,
                               tooltip="Share of tokens sampled at the 1/16 grid."),
                io.Float.Input("gate_early", default=0.7, min=0.0, max=1.0, step=0.05,
                               tooltip="Chance that a layer uses consistent attention at a step before gate_switch_step (step 0 never does)."),
                io.Float.Input("gate_late", default=0.9, min=0.0, max=1.0, step=0.05,
                               tooltip="The same chance from gate_switch_step on."),
                io.Int.Input("gate_switch_step", default=20, min=1, max=1000, tooltip="The step from which gate_late applies."),
                io.Boolean.Input("keep_bank", default=False,
                                 tooltip="Keep the identity images' sampled tokens of every step for later runs (Consistent "
                                         "Character in a video). Off: nothing is kept beyond the run."),
                io.Boolean.Input("bank_on_cpu", default=True,
                                 tooltip="Keep the bank in system memory instead of VRAM (slower to read, saves VRAM)."),
                io.Float.Input("bank_limit_gb", default=8.0, min=0.1, max=256.0, step=0.1,
                               tooltip="Largest bank allowed, in GiB: SDXL at 768 px and 35 steps needs about 2 GiB per identity image."),
            ],
            outputs=[io.Model.Output(tooltip="A patched copy of the model; the input model is unchanged."),
                     CharacterBankType.Output(display_name="character_bank",
                                              tooltip="The characters' bank for Consistent Character (needs keep_bank on).")],
        )

    @classmethod
    def validate_inputs(cls, sa32: float | None = None, sa64: float | None = None, gate_early: float | None = None,
                        gate_late: float | None = None, bank_limit_gb: float | None = None) -> bool | str:
        return input_problem(cls, sa32=sa32, sa64=sa64, gate_early=gate_early, gate_late=gate_late,
                             bank_limit_gb=bank_limit_gb) or True

    @classmethod
    @checks_inputs
    def execute(cls, model, story: Story, sa32: float, sa64: float, gate_early: float, gate_late: float, gate_switch_step: int,
                keep_bank: bool, bank_on_cpu: bool, bank_limit_gb: float) -> io.NodeOutput:
        bank = Bank(max_bytes=int(bank_limit_gb * 2**30), on_cpu=bank_on_cpu) if keep_bank else None
        strategy = ConsistentSelfAttention(roles=story_roles(story), rates={32: sa32, 16: sa64}, bank_key=FEATURE_KEY,
                                           gate_early=gate_early, gate_late=gate_late, gate_switch_step=gate_switch_step)
        return io.NodeOutput(apply_feature(model, FEATURE_KEY, strategy, bank), CharacterBank(bank, story, strategy))


class ConsistentCharacter(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaConsistentCharacter",
            display_name="Consistent Character (Kinema)",
            category=CATEGORY,
            description=(
                "Holds a story character in any later sampling, e.g. an AnimateDiff video with context windows: every frame's "
                "decoder self-attention also sees the character's identity tokens banked at the same step. Sample the "
                "identity images first (Consistent Self-Attention with keep_bank on), with the same steps, scheduler and size."
            ),
            inputs=[
                io.Model.Input("model", tooltip="The model to sample the video with (motion module applied or not)."),
                CharacterBankType.Input("character_bank", tooltip="From Consistent Self-Attention, with keep_bank on."),
                io.Latent.Input("identity_latent",
                                tooltip="The latent the identity images were sampled into (the story KSampler's output): makes "
                                        "this node wait until the bank is filled."),
                io.String.Input("character", default="Mira", tooltip="The story character to hold (its [Name])."),
            ],
            outputs=[io.Model.Output(tooltip="A patched copy of the model; the input model is unchanged.")],
        )

    @classmethod
    def execute(cls, model, character_bank: CharacterBank, identity_latent: dict, character: str) -> io.NodeOutput:
        story = character_bank.story
        names = [name for name, indices in story.identity if indices]
        if character not in names:
            raise ValueError(f"Consistent Character: '{character}' has no identity images in the story (characters with some: "
                             f"{', '.join(names) or 'none'}); write one of those names.")
        if character_bank.bank is None:
            raise ValueError("Consistent Character: the Consistent Self-Attention node feeding it keeps no bank; turn its "
                             "keep_bank on and queue again.")
        strategy = dataclasses.replace(character_bank.strategy, roles=(), rest=Role(reads=(character,), gate="video"))
        return io.NodeOutput(apply_feature(model, FEATURE_KEY, strategy, character_bank.bank))


class ComicPages(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaComicPages",
            display_name="Comic Pages (Kinema)",
            category=CATEGORY,
            description=(
                "Typesets the story's panels as comic pages with their captions (word-wrapped, bottom-centred on a white box): "
                "'Four Panel' puts four captioned panels on each page; 'Classic Comic' builds strips of 4 and 6 with some "
                "panels stacked at half size. All pages come out the same size, as one image batch."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The decoded panels, in story order (one per story line)."),
                StoryType.Input("story", tooltip="From Story Prompts: the captions."),
                io.Combo.Input("layout", options=list(LAYOUTS), default="Four Panel", tooltip="The page layout."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF,
                             tooltip="Shuffles the Classic Comic strips (the same seed gives the same pages)."),
            ],
            outputs=[io.Image.Output(display_name="pages", tooltip="The comic pages, one image each.")],
        )

    @classmethod
    def validate_inputs(cls, layout: str | None = None) -> bool | str:
        return input_problem(cls, layout=layout) or True  # 0.3.75 never checks a V3 combo's options

    @classmethod
    def execute(cls, images: torch.Tensor, story: Story, layout: str, seed: int) -> io.NodeOutput:
        if images.shape[0] != len(story.panels):
            raise ValueError(f"Comic Pages: {images.shape[0]} images for a story of {len(story.panels)} panels; decode the "
                             "latent of the same story (one image per story line).")
        pictures = [Image.fromarray((frame.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()) for frame in images]
        pages = LAYOUTS[layout](pictures, list(story.captions), random.Random(seed))
        # each [H, W, 3] uint8 page -> [P, H, W, 3] floats in 0..1 (all pages share one size)
        return io.NodeOutput(torch.from_numpy(np.stack([np.asarray(page.convert("RGB")) for page in pages])).float() / 255.0)


NODES = [StoryPrompts, ConsistentSelfAttentionNode, ConsistentCharacter, ComicPages]
