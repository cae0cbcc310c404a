"""StoryDiffusion's consistent self-attention against an independent implementation of the reference processor's
arithmetic (REFERENCE section 4), and the section's checks: sa = 0, one identity image, [NC], sa = 1 with identical
images, gate frequencies, sampled-token counts, indices per grid and step, cond apart from uncond, same seed same bits."""

from __future__ import annotations

import pytest
import torch

from frame_attention_support import LAYER, TOKENS, C, block, call_options, frames_in, patch_with, projections, read_facts, sdpa
from kinema.frame_attention import (
    PLAIN,
    AnchorStrategy,
    Bank,
    ConsistentSelfAttention,
    MissingBankError,
    Role,
    RunState,
    frame_context,
)

LATENT = (12, 8)  # 96 latent pixels over TOKENS = 6 tokens: 4 latent (32 image) pixels per token side, StoryDiffusion's sa32 grid
SIGMAS = (4.0, 3.0, 2.0, 1.0, 0.0)
BANK = "story"


def consistent(roles, sa32: float = 0.5, gate: float = 1.0, **kwargs) -> ConsistentSelfAttention:
    return ConsistentSelfAttention(roles=tuple(roles), rates={32: sa32, 16: 0.5}, bank_key=BANK, gate_early=gate, gate_late=gate,
                                   **kwargs)


def options(run: RunState, batch: int, step: int = 2, cond_or_uncond=(1, 0), replacement: bool = True) -> dict:
    return call_options(list(cond_or_uncond), batch, ours=(LAYER,) if replacement else (), run=run, sigma=SIGMAS[step],
                        sample_sigmas=SIGMAS, latent_size=LATENT)


def writers(character: str, count: int) -> list[Role]:
    return [Role(writes=character)] * count


# --- the reference processor's arithmetic, written from REFERENCE section 4 -------------------------------------------

def attention(hidden: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Q from ``hidden`` [B, N, C], K/V from ``sources`` [B, M, C], with the test layer's projections."""
    wq, wk, wv = projections()
    return sdpa(hidden @ wq, sources @ wk, sources @ wv)


def reference_write(images: torch.Tensor, indices: list[torch.Tensor], gate_open: bool):
    """``images`` [2, n, N, C] (guidance, image): each image's output, and the bank entry (one [2, k_i, C] per image)."""
    bank = [images[:, i, indices[i]] for i in range(images.shape[1])]
    out = torch.empty_like(images)
    for j in range(images.shape[1]):
        others = [bank[i] for i in range(images.shape[1]) if i != j]
        sources = torch.cat([*others, images[:, j]], dim=1) if gate_open else images[:, j]
        out[:, j] = attention(images[:, j], sources)
    return out, bank


def reference_read(panel: torch.Tensor, banks: list[list[torch.Tensor]], gate_open: bool) -> torch.Tensor:
    """``panel`` [2, N, C] against the bank entries of every character it names, in order, then its own tokens."""
    entries = [entry for bank in banks for entry in bank]
    return attention(panel, torch.cat([*entries, panel], dim=1) if gate_open else panel)


def drawn(strategy: ConsistentSelfAttention, run: RunState, character: str, batch: int, step: int = 2):
    """The token positions the strategy draws for ``character`` at ``step`` (what the reference's indices are)."""
    ctx = frame_context(batch, read_facts(options(run, batch, step)))
    return strategy.sampled_positions(ctx, character, TOKENS, strategy.rate(ctx, TOKENS), "cpu")


def as_chunks(x: torch.Tensor, frames: int) -> torch.Tensor:
    # [2*F, N, C] -> [2, F, N, C]
    return x.view(2, frames, TOKENS, C)


# --- equivalence -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gate", [1.0, 0.0], ids=["gate open", "gate closed"])
def test_write_phase_equals_the_reference_arithmetic(gate):
    strategy, bank = consistent(writers("A", 3), gate=gate), Bank()
    run = RunState(seed=7, banks={BANK: bank})
    x = frames_in(2, 3)
    out = block(x, patch_with(strategy), options(run, 6))
    expected, expected_bank = reference_write(as_chunks(x, 3), drawn(strategy, run, "A", 6), gate_open=gate == 1.0)
    torch.testing.assert_close(as_chunks(out, 3), expected, rtol=1e-5, atol=1e-5)
    for kind, chunk in ((1, 0), (0, 1)):  # cond_or_uncond [1, 0]: chunk 0 is uncond, chunk 1 cond
        torch.testing.assert_close(bank.read(("A", LAYER, 2, kind)), torch.cat([entry[chunk] for entry in expected_bank]))


@pytest.mark.parametrize("gate", [1.0, 0.0], ids=["gate open", "gate closed"])
def test_read_phase_equals_the_reference_arithmetic_for_two_characters(gate):
    bank = Bank()
    identities = {name: frames_in(2, 2, seed=seed) for name, seed in (("A", 3), ("B", 4))}
    banks = {}
    for name, x in identities.items():
        writer = consistent(writers(name, 2))
        run = RunState(seed=7, banks={BANK: bank})
        block(x, patch_with(writer), options(run, 4))
        banks[name] = reference_write(as_chunks(x, 2), drawn(writer, run, name, 4), gate_open=True)[1]
    reader = consistent([Role(reads=("A", "B"), gate="panel 5")], gate=gate)
    panel = frames_in(2, 1, seed=9)
    out = block(panel, patch_with(reader), options(RunState(seed=7, banks={BANK: bank}), 2))
    torch.testing.assert_close(out, reference_read(panel, [banks["A"], banks["B"]], gate_open=gate == 1.0).reshape(2, TOKENS, C),
                               rtol=1e-5, atol=1e-5)


def test_identity_images_and_panels_in_one_batch_equal_the_identity_run_then_the_panel_run():
    identity, panel = frames_in(2, 2, seed=3), frames_in(2, 1, seed=9)
    read = Role(reads=("A",), gate="panel 2")
    # [2*2, N, C] and [2*1, N, C] -> [2*3, N, C]: per chunk the two identity images, then the panel
    joint = torch.cat([as_chunks(identity, 2), panel.view(2, 1, TOKENS, C)], dim=1).reshape(6, TOKENS, C)
    together = block(joint, patch_with(consistent([*writers("A", 2), read])), options(RunState(seed=7), 6))
    bank = Bank()
    alone = block(identity, patch_with(consistent(writers("A", 2))), options(RunState(seed=7, banks={BANK: bank}), 4))
    after = block(panel, patch_with(consistent([read])), options(RunState(seed=7, banks={BANK: bank}), 2))
    torch.testing.assert_close(as_chunks(together, 3)[:, :2], as_chunks(alone, 2), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(as_chunks(together, 3)[:, 2], after, rtol=1e-5, atol=1e-6)


# --- REFERENCE section 4 checks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("roles", [writers("A", 3), [Role(reads=("A",))] * 3], ids=["write", "read"])
def test_sa_zero_is_plain_self_attention_exactly(roles):
    bank = Bank()
    block(frames_in(2, 3, seed=3), patch_with(consistent(writers("A", 3), sa32=0.0)), options(RunState(seed=1, banks={BANK: bank}), 6))
    x = frames_in(2, 3)
    out = block(x, patch_with(consistent(roles, sa32=0.0)), options(RunState(seed=1, banks={BANK: bank}), 6))
    assert torch.equal(out, block(x, None, call_options([1, 0], 6)))


@pytest.mark.parametrize("roles", [writers("A", 1), [PLAIN, PLAIN]], ids=["one identity image", "[NC] panels"])
def test_one_identity_image_and_no_character_panels_are_ordinary_generation(roles):
    x = frames_in(2, len(roles))
    out = block(x, patch_with(consistent(roles)), options(RunState(seed=1, banks={BANK: Bank()}), x.shape[0]))
    assert torch.equal(out, block(x, None, call_options([1, 0], x.shape[0])))


def test_sa_one_with_identical_identity_images_equals_plain_attention():
    one = frames_in(2, 1)
    # [2, N, C] -> [2, 3, N, C] -> [6, N, C]: the same image three times in each chunk
    x = one.view(2, 1, TOKENS, C).expand(2, 3, TOKENS, C).reshape(6, TOKENS, C)
    out = block(x, patch_with(consistent(writers("A", 3), sa32=1.0)), options(RunState(seed=1), 6))
    torch.testing.assert_close(out, block(x, None, call_options([1, 0], 6)), rtol=1e-5, atol=1e-6)


def test_gates_open_at_the_published_frequencies_and_never_at_step_zero():
    strategy = ConsistentSelfAttention(roles=(), rates={32: 0.5})
    run = RunState(seed=3)
    sigmas = tuple(float(s) for s in torch.linspace(30, 0, 41))
    def opened(step: int) -> float:
        ctx = frame_context(2, read_facts({"run": run, "sigma": sigmas[step], "sample_sigmas": sigmas, "latent_size": LATENT}))
        layers = [("output", block_number, index) for block_number in range(3, 6) for index in range(10)]
        return sum(strategy.gate_open(ctx.__class__(**{**ctx.__dict__, "layer": layer}), "panel") for layer in layers) / len(layers)
    assert opened(0) == 0.0
    early = sum(opened(step) for step in range(1, 20)) / 19
    late = sum(opened(step) for step in range(20, 40)) / 20
    assert abs(early - 0.7) < 0.05 and abs(late - 0.9) < 0.05, (early, late)


def test_sampled_tokens_average_sa_times_n_are_shared_by_a_grid_within_a_step_and_redrawn_each_step():
    strategy = ConsistentSelfAttention(roles=tuple(writers("A", 2)), rates={32: 0.3, 16: 0.6})
    run = RunState(seed=5)
    tokens = 1024

    def positions(step: int, layer: tuple, latent=(128, 128)):
        ctx = frame_context(2, read_facts({"run": run, "sigma": SIGMAS[step], "sample_sigmas": SIGMAS, "latent_size": latent,
                                           "layer": layer}))
        return strategy.sampled_positions(ctx, "A", tokens, strategy.rate(ctx, tokens), "cpu")
    counts = [len(p) for step in range(4) for p in positions(step, LAYER)]
    assert abs(sum(counts) / len(counts) - 0.3 * tokens) < 0.05 * tokens
    first, other_layer = positions(1, ("output", 4, 7)), positions(1, ("output", 5, 2))
    assert all(torch.equal(a, b) for a, b in zip(first, other_layer, strict=True)), "one draw per grid and step"
    assert not torch.equal(first[0], positions(2, ("output", 4, 7))[0]), "redrawn every step"
    assert not torch.equal(first[0], first[1]), "each identity image its own positions"
    fine = positions(1, LAYER, latent=(64, 64))  # the same 1024 tokens at 2 latent pixels per side: the sa64 grid
    assert abs(sum(len(p) for p in fine) / 2 - 0.6 * tokens) < 0.1 * tokens


@pytest.mark.parametrize("roles", [writers("A", 3), [*writers("A", 2), Role(reads=("A",), gate="p")]],
                         ids=["identity images", "identity images and a panel"])
def test_changing_the_uncond_chunk_never_changes_cond(roles):
    x = frames_in(2, 3)
    y = x.clone()
    y[:3] = frames_in(1, 3, seed=8)  # chunk 0 is uncond (cond_or_uncond [1, 0])
    a = block(x, patch_with(consistent(roles)), options(RunState(seed=1), 6))
    b = block(y, patch_with(consistent(roles)), options(RunState(seed=1), 6))
    assert torch.equal(a[3:], b[3:]) and not torch.equal(a[:3], b[:3])


def identity_steps(seed: int, steps: int = 4) -> list[torch.Tensor]:
    strategy = consistent(writers("A", 3), gate=0.7)
    run = RunState(seed=seed, banks={BANK: Bank()})
    return [block(frames_in(2, 3, seed=step), patch_with(strategy), options(run, 6, step=step)) for step in range(steps)]


def test_the_same_seed_gives_the_same_bits_whatever_ran_before():
    first = identity_steps(9)
    torch.randn(100)  # global randomness in between changes nothing
    identity_steps(1)
    assert all(torch.equal(a, b) for a, b in zip(first, identity_steps(9), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(first[1:], identity_steps(10)[1:], strict=True))


def test_the_bank_is_written_every_step_only_with_all_identity_images_and_read_errors_name_the_fix():
    bank = Bank()
    strategy = consistent(writers("A", 3))
    for step in range(4):
        block(frames_in(2, 3, seed=step), patch_with(strategy), options(RunState(seed=2, banks={BANK: bank}), 6, step=step))
    assert len(bank) == 4 * 2, "every step (step 0 too), cond and uncond apart"
    partial = Bank()
    # a context window holding two of the three identity images: nothing banked
    block(frames_in(2, 2), patch_with(strategy), {**options(RunState(seed=2, banks={BANK: partial}), 4), "window_frames": (1, 2)})
    assert len(partial) == 0
    reader = consistent([Role(reads=("A",))])
    with pytest.raises(MissingBankError, match="sample A's identity images first"):
        block(frames_in(2, 1), patch_with(reader), options(RunState(seed=2, banks={BANK: Bank()}), 2))
    bank.clear()
    assert len(bank) == 0


def test_a_video_reading_one_character_composes_with_an_anchor():
    bank = Bank()
    block(frames_in(2, 2, seed=4), patch_with(consistent(writers("A", 2))), options(RunState(seed=1, banks={BANK: bank}), 4))
    video = consistent([], rest=Role(reads=("A",), gate="video"))
    x, run = frames_in(2, 3), RunState(seed=1, banks={BANK: bank})
    both = block(x, patch_with(AnchorStrategy(), video, keys=["t2vz", "story"]), options(run, 6))
    anchor = block(x, patch_with(AnchorStrategy()), options(run, 6))
    reading = block(x, patch_with(video), options(run, 6))
    assert not torch.allclose(both, anchor) and not torch.allclose(both, reading)


def test_only_decoder_layers_at_the_two_grids_take_part():
    x = frames_in(2, 3)
    plain = block(x, None, call_options([1, 0], 6))
    run = RunState(seed=1)
    encoder = {**options(run, 6), "layer": ("input", 4, 0)}
    assert torch.equal(block(x, patch_with(consistent(writers("A", 3))), encoder), plain)
    finest = {**options(run, 6), "latent_size": (6, 4)}  # 24 latent pixels over 6 tokens: the 16-px grid... and (3, 2): 8 px
    assert not torch.equal(block(x, patch_with(consistent(writers("A", 3))), finest), plain)
    assert torch.equal(block(x, patch_with(consistent(writers("A", 3))), {**options(run, 6), "latent_size": (3, 2)}), plain)
