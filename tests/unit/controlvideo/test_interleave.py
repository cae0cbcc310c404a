"""ControlVideo's interleaved-frame smoother (REFERENCE.md section 3): index tables, firing steps, the smoothed
DDIM step, batching, and "identity VAE + no-op interpolator = plain DDIM", all read from the sampler function itself.

The model is a plain callable of ours returning a fixed prediction per frame (the sampler's input, not a
ComfyUI double); VAEs are identity layouts [n, 3, h, w] <-> [n, h, w, 3], so image values are latent values.
"""

from __future__ import annotations

import logging

import pytest
import torch

from kinema.controlvideo import InterleavedSmootherDDIM, firing_steps, replacements
from kinema.controlvideo.batches import plan_batches
from kinema.controlvideo.interleave import reads_precede_writes

# The reference's loop (pipeline_controlvideo.py) worked out by hand: (target, first, second) in its order.
TABLES = {
    8: {
        "odd": [(1, 0, 2), (3, 2, 4), (5, 4, 6)],
        "even": [(0, 0, 1), (2, 1, 3), (4, 3, 5), (6, 5, 7)],
    },
    15: {
        "odd": [(1, 0, 2), (3, 2, 4), (5, 4, 6), (7, 6, 8), (9, 8, 10), (11, 10, 12), (13, 12, 14)],
        "even": [(0, 0, 1), (2, 1, 3), (4, 3, 5), (6, 5, 7), (8, 7, 9), (10, 9, 11), (12, 11, 13), (14, 13, 14)],
    },
    16: {
        "odd": [(1, 0, 2), (3, 2, 4), (5, 4, 6), (7, 6, 8), (9, 8, 10), (11, 10, 12), (13, 12, 14)],
        "even": [(0, 0, 1), (2, 1, 3), (4, 3, 5), (6, 5, 7), (8, 7, 9), (10, 9, 11), (12, 11, 13), (14, 13, 15)],
    },
    17: {
        "odd": [(1, 0, 2), (3, 2, 4), (5, 4, 6), (7, 6, 8), (9, 8, 10), (11, 10, 12), (13, 12, 14), (15, 14, 16)],
        "even": [(0, 0, 1), (2, 1, 3), (4, 3, 5), (6, 5, 7), (8, 7, 9), (10, 9, 11), (12, 11, 13), (14, 13, 15), (16, 15, 16)],
    },
}
STEPS = 50


def to_images(latents: torch.Tensor) -> torch.Tensor:
    return latents.movedim(1, -1)  # [n, 3, h, w] -> [n, h, w, 3]: an identity VAE decode


def to_latents(images: torch.Tensor) -> torch.Tensor:
    return images.movedim(-1, 1)  # [n, h, w, 3] -> [n, 3, h, w]: an identity VAE encode


def blend(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    return 0.5 * (first + second)


class FramePrediction:
    """A model predicting x0 = frame id + 0.001 x (frame k's image is ~k everywhere), and counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **extra) -> torch.Tensor:
        self.calls += 1
        ids = torch.arange(x.shape[0], dtype=x.dtype).view(-1, 1, 1, 1)  # [F] -> [F, 1, 1, 1]
        return ids + 0.001 * x


def sigmas(steps: int = STEPS) -> torch.Tensor:
    return torch.linspace(14.0, 0.0, steps + 1)


def noise(frames: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(frames, 3, 2, 2, generator=torch.Generator().manual_seed(seed)) * 14.0


class Run:
    """One run of the sampler function with recording hooks: firings, the x and prediction of every step."""

    def __init__(self, frames: int, steps: int = STEPS, **options) -> None:
        self.firings, self.xs, self.predictions, self.interpolated = [], [], [], []
        options.setdefault("interpolate", self.recording_blend)
        smoother = InterleavedSmootherDDIM(decode=options.pop("decode", to_images), encode=options.pop("encode", to_latents),
                                           recorder=self.firings.append, **options)
        self.out = smoother(FramePrediction(), noise(frames), sigmas(steps), callback=self.watch)

    def watch(self, info: dict) -> None:
        self.xs.append(info["x"])
        self.predictions.append(info["denoised"])

    def recording_blend(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Records which frames each pair holds (frame k's image is ~k) and at which step it was called."""
        for a, b in zip(first[:, 0, 0, 0].tolist(), second[:, 0, 0, 0].tolist(), strict=True):
            self.interpolated.append((len(self.xs) - 1, round(a), round(b)))
        return blend(first, second)


def plain_ddim(frames: int, steps: int = STEPS) -> list[torch.Tensor]:
    """k-diffusion's sample_euler (s_churn 0) as ComfyUI's 'ddim' runs it: every step's x, then the result."""
    model, x, sig, xs = FramePrediction(), noise(frames), sigmas(steps), []
    for i in range(steps):
        xs.append(x)
        denoised = model(x, sig[i] * x.new_ones([x.shape[0]]))
        d = (x - denoised) / sig[i][(...,) + (None,) * 4]  # [] -> [1, 1, 1, 1] as k-diffusion's append_dims
        x = x + d * (sig[i + 1] - sig[i])
    return [*xs, x]


@pytest.mark.parametrize("frames", sorted(TABLES))
def test_the_smoother_replaces_the_reference_frames_from_the_reference_pairs(frames):
    run = Run(frames)
    assert [(f.step, f.phase) for f in run.firings] == [(30, "odd"), (31, "even")]
    for firing in run.firings:
        assert [tuple(r) for r in firing.replacements] == TABLES[frames][firing.phase]
        assert [tuple(r) for r in replacements(frames, firing.phase)] == TABLES[frames][firing.phase]
    # the pairs the interpolator really got, by the frame ids in their images, in order
    assert run.interpolated == [(step, r[1], r[2]) for step in (30, 31) for r in TABLES[frames][run.firings[step - 30].phase]]
    # the frames that really changed: exactly the targets, one firing at a time
    plain = plain_ddim(frames)
    for step, after in ((30, 31), (31, 32)):
        changed = (run.xs[after] - plain[after]).flatten(1).abs().amax(1) > 0  # [F, 3*2*2] -> [F]
        replaced = {r[0] for s in (30, 31) if s <= step for r in TABLES[frames][run.firings[s - 30].phase]}
        assert changed.nonzero().flatten().tolist() == sorted(replaced)


def test_frames_without_a_pair_are_left_and_only_the_reference_quirk_reads_its_own_target():
    assert {r[0] for r in TABLES[16]["odd"]} == set(range(1, 15, 2))  # frame 15 has no right neighbour
    assert {r[0] for r in TABLES[8]["odd"]} == {1, 3, 5}  # frame 7 neither
    for frames in range(1, 41):
        for phase in ("odd", "even"):
            table = replacements(frames, phase)
            assert reads_precede_writes(table)
            both = {r.target for r in table} & {f for r in table for f in (r.first, r.second)}
            assert both <= {0, frames - 1}, (frames, phase)
            assert len({r.target for r in table}) == len(table)
    assert replacements(1, "odd") == () and replacements(1, "even") == ((0, 0, 0),)
    assert replacements(2, "odd") == () and replacements(2, "even") == ((0, 0, 1),)


@pytest.mark.parametrize(("steps", "odd_at", "even_at", "expected"), [
    (50, 0.6, 0.62, {30: "odd", 31: "even"}),  # the reference: smooth_steps [19, 20] of 50
    (100, 0.6, 0.62, {60: "odd", 62: "even"}),
    (50, 0.58, 0.6, {29: "odd", 30: "even"}),  # 0.58 * 50 = 28.999999999999996 is still step 29
    (20, 0.6, 0.62, {12: "odd", 13: "even"}),  # both land on 12: the even pass moves one step later
    (4, 0.6, 0.62, {2: "odd", 3: "even"}),
    (2, 0.6, 0.62, {1: "odd"}),  # the even pass is pushed past the last step: skipped
    (1, 0.6, 0.62, {0: "odd"}),
    (10, 0.5, 0.5, {5: "odd", 6: "even"}),  # a tie: the even pass is the later one
    (50, 0.62, 0.6, {30: "even", 31: "odd"}),  # reversed on purpose: each at its own step
    (20, 0.62, 0.6, {12: "even", 13: "odd"}),
    (50, 1.0, 0.62, {31: "even"}),  # 1.0: that pass is off
    (50, 1.0, 1.0, {}),
    (49, 0.99, 1.0, {48: "odd"}),  # the last step fires (sigma_next 0: the result is the smoothed x0)
])
def test_firing_steps(steps, odd_at, even_at, expected):
    assert firing_steps(steps, odd_at, even_at) == expected


def test_it_fires_only_at_the_configured_steps_and_is_plain_ddim_before():
    run = Run(9, odd_at=0.2, even_at=0.7)
    assert [(f.step, f.phase) for f in run.firings] == [(10, "odd"), (35, "even")]
    assert {step for step, _, _ in run.interpolated} == {10, 35}
    plain = plain_ddim(9)
    assert all(torch.equal(run.xs[i], plain[i]) for i in range(11))
    assert not torch.equal(run.xs[11], plain[11])


def test_when_nothing_fires_it_is_plain_ddim_bit_for_bit_and_never_touches_the_vae():
    def refuse(*args):
        raise AssertionError("nothing fires: the VAE and the interpolator must not be called")

    run = Run(8, odd_at=1.0, even_at=1.0, decode=refuse, encode=refuse, interpolate=refuse)
    assert run.firings == []
    assert torch.equal(run.out, plain_ddim(8)[-1])


class NoOp:
    """An interpolator returning, for each pair, the image of the frame the pair is about to replace.

    It learns the targets from the recorder (told before the firing runs) and the prediction from the
    sampler's callback; with it, smoothing rewrites every replaced frame with its own predicted value.
    """

    name = "no-op"

    def __init__(self, to_vae) -> None:
        self.to_vae, self.targets, self.prediction = to_vae, [], None

    def record(self, firing) -> None:
        self.targets.extend(r.target for r in firing.replacements)

    def watch(self, info: dict) -> None:
        self.prediction = info["denoised"]

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        targets, self.targets = self.targets[:len(first)], self.targets[len(first):]
        return to_images(self.to_vae(self.prediction[targets]))


@pytest.mark.parametrize("frames", [8, 15])
@pytest.mark.parametrize("decode_batch", [1, 3, 16])
def test_identity_vae_and_a_no_op_interpolator_give_plain_ddim_exactly(frames, decode_batch):
    to_sampler, to_vae = (lambda z: z * 0.5), (lambda z: z * 2.0)  # a latent format (a power of 2: exact both ways)
    no_op = NoOp(to_vae)
    smoother = InterleavedSmootherDDIM(decode=to_images, encode=to_latents, interpolate=no_op, decode_batch=decode_batch,
                                       latent_format=lambda model: (to_sampler, to_vae), recorder=no_op.record)
    out = smoother(FramePrediction(), noise(frames), sigmas(), callback=no_op.watch)
    assert no_op.targets == []  # every target was handed out
    assert torch.equal(out, plain_ddim(frames)[-1])
    # and the same run with a real blend is not plain DDIM: the equality above is not vacuous
    assert not torch.equal(Run(frames, decode_batch=decode_batch).out, plain_ddim(frames)[-1])


def test_the_smoothed_step_reaims_at_the_new_x0_with_the_same_noise_in_the_models_latent_space():
    decoded = []
    to_sampler, to_vae = (lambda z: (z - 1.0) / 2.0), (lambda z: z * 2.0 + 1.0)

    def decode(latents):
        decoded.append(latents)
        return to_images(latents)

    frames = 8
    run = Run(frames, decode=decode, latent_format=lambda model: (to_sampler, to_vae))
    sig, x, prediction = sigmas(), run.xs[30], run.predictions[30]
    odd = [r for r in replacements(frames, "odd")]
    torch.testing.assert_close(decoded[0], to_vae(prediction[[0, 2, 4, 6]]), rtol=0, atol=1e-6)  # the VAE gets VAE latents
    new_x0 = prediction.clone()
    for target, first, second in odd:
        new_x0[target] = to_sampler(blend(to_vae(prediction[first]), to_vae(prediction[second])))
    eps = (x - prediction) / sig[30]
    expected = new_x0 + sig[31] * eps  # x_next = x0' + sigma_next * eps_hat
    torch.testing.assert_close(run.xs[31], expected, rtol=1e-5, atol=1e-5)
    untouched = [0, 2, 4, 6, 7]
    assert torch.equal(run.xs[31][untouched], plain_ddim(frames)[31][untouched])


def test_memory_is_bounded_by_the_batch_and_every_read_frame_is_decoded_once_per_firing():
    calls = {"decode": [], "interpolate": [], "encode": []}
    progress = []

    def decode(latents):
        calls["decode"].append(latents.shape[0])
        return to_images(latents)

    def encode(images):
        calls["encode"].append(images.shape[0])
        return to_latents(images)

    def interpolate(first, second):
        calls["interpolate"].append(first.shape[0])
        return blend(first, second)

    frames, batch = 17, 3
    out = Run(frames, decode=decode, encode=encode, interpolate=interpolate, decode_batch=batch,
              progress=lambda done, total: progress.append((done, total))).out
    assert max(max(sizes) for sizes in calls.values()) <= batch
    reads = sum(len({f for r in replacements(frames, p) for f in r[1:]}) for p in ("odd", "even"))
    assert sum(calls["decode"]) == reads == 9 + 10
    assert sum(calls["interpolate"]) == sum(calls["encode"]) == 8 + 9
    # progress per firing: frames decoded + pairs interpolated + frames encoded, rising to its total
    odd_total, even_total = 9 + 2 * 8, 10 + 2 * 9
    calls_per_firing = [3 * len(plan_batches(replacements(frames, p), batch)) for p in ("odd", "even")]  # decode, interpolate, encode
    assert calls_per_firing == [9, 12]
    assert [total for _, total in progress] == [odd_total] * 9 + [even_total] * 12
    for total in (odd_total, even_total):
        done = [d for d, t in progress if t == total]
        assert done == sorted(set(done)) and done[-1] == total
    assert torch.equal(out, Run(frames, decode_batch=64).out)  # batching changes nothing


def test_plan_batches_keeps_order_and_decodes_each_frame_of_a_chain_once():
    table = replacements(16, "even")
    for size in (1, 2, 4, 100):
        batches = plan_batches(table, size)
        assert tuple(pair for batch in batches for pair in batch.pairs) == table
        assert all(len(batch.pairs) <= size for batch in batches)
        decoded = [frame for batch in batches for frame in batch.decode]
        assert sorted(decoded) == sorted({f for r in table for f in r[1:]})
        kept: set[int] = set()
        for batch in batches:
            assert {f for r in batch.pairs for f in r[1:]} <= kept | set(batch.decode)
            kept = {f for r in batch.pairs for f in r[1:]}
    with pytest.raises(ValueError, match="decode_batch must be at least 1; got 0"):
        plan_batches(table, 0)


def test_a_wrong_vae_or_interpolator_is_refused_in_a_sentence():
    with pytest.raises(ValueError, match=r"decoded 4 latents into shape \[4, 2, 2, 4\].*SD1.5 or SDXL VAE"):
        Run(8, decode=lambda z: torch.cat([to_images(z), to_images(z)[..., :1]], -1))
    with pytest.raises(ValueError, match=r"encoded the interpolated frames into latents of shape \[3, 6, 2, 2\].*\[3, 3, 2, 2\]"):
        Run(8, encode=lambda images: to_latents(images).repeat(1, 2, 1, 1))
    with pytest.raises(ValueError, match=r"interpolator 'halves' returned shape \[1, 2, 2, 3\] for 3 pairs"):
        class Halves:
            name = "halves"

            def __call__(self, first, second):
                return first[:1]

        Run(8, interpolate=Halves())


def test_a_pass_that_falls_past_the_schedule_is_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="kinema.controlvideo.smoother"):
        run = Run(8, steps=2)
    assert [(f.step, f.phase) for f in run.firings] == [(1, "odd")]
    message = caplog.text
    assert "even-frame pass (even_frames_at=0.62)" in message and "last of the 2 steps" in message and "more steps" in message
