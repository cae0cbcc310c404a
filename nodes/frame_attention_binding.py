"""Frame-attention features on a ComfyUI model clone: one Kinema patch per model, every feature under its own key.

A node adds its feature with ``apply_feature``: the clone's one ``FrameAttention`` (made on
first use) is replaced by a copy holding the feature (replacing the same key's earlier one,
keeping the others), set last in the ``attn1_patch`` chain, with ``RestoreFrameBatch`` first
among the output patches and our ``attn1`` replacement on every self-attention layer no
other node replaces. Around each UNet call a wrapper decides the call's route from its patch
chain; around each sampling run another puts the run's state (seed, banks) in the options.
"""

from __future__ import annotations

import logging

from ..comfy_glue import attention, patcher
from ..frame_attention import (
    ROUTE_OPTION,
    RUN_OPTION,
    Bank,
    CallFacts,
    FrameAttention,
    FrameAttentionReplacement,
    RestoreFrameBatch,
    RunState,
    Strategy,
    existing_patch,
    is_frame_attention_patch,
    route,
)
from ..windowing import pass_frame_ids
from .frame_batch_windows import add_window_support

PATCH_KEY = "kinema_frame_attention"
log = logging.getLogger(__name__)


def read_facts(extra_options: dict) -> CallFacts:
    call = attention.attention_call(extra_options)
    return CallFacts(chunk_kinds=call.chunk_kinds, window_frames=tuple(pass_frame_ids(*call.window)) if call.window else None,
                     layer=call.layer, sigma=call.sigma, sample_sigmas=call.sample_sigmas, run=extra_options.get(RUN_OPTION),
                     latent_size=call.latent_size)


def _route_call(x, transformer_options: dict, run):
    facts = attention.attn1_patches(transformer_options)
    decided = route(x.shape[0], facts.chain, facts.output_chain, facts.replacements, is_frame_attention_patch)
    return run({**transformer_options, ROUTE_OPTION: decided})


def _log_banks(run: RunState) -> None:
    for key, bank in run.banks.items():
        if len(bank):
            log.info("frame attention '%s': its token bank holds %.1f MiB in %d entries (%s)", key, bank.nbytes / 2**20, len(bank),
                     "on the CPU" if bank.on_cpu else "where the model runs")


def model_patch(model) -> FrameAttention | None:
    """The model's Kinema frame-attention patch, if it has one."""
    return existing_patch(attention.attn1_patches(model.model_options.get("transformer_options", {})).chain)


def apply_feature(model, key: str, strategy: Strategy, bank: Bank | None = None):
    """A clone of ``model`` whose frame attention runs ``strategy`` under ``key`` (with ``bank``, if it keeps one)."""
    patched = model.clone()
    current = model_patch(patched) or FrameAttention(read_facts=read_facts, attend=attention.self_attention)
    patch = current.with_feature(key, strategy, bank)
    attention.set_attn1_patch(patched, patch, RestoreFrameBatch(), is_frame_attention_patch)
    attention.set_attn1_replacement(patched, attention.self_attention_layers(patched), FrameAttentionReplacement(patch),
                                    is_frame_attention_patch)
    patcher.set_unet_call_wrapper(patched, PATCH_KEY, _route_call)
    patcher.set_sampling_run_option(patched, PATCH_KEY, RUN_OPTION, lambda seed: RunState(seed=seed or 0, banks=patch.banks),
                                    finish=_log_banks)
    add_window_support(patched)
    return patched
