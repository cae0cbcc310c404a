"""StoryDiffusion with PhotoMaker in a real ComfyUI, on the full-size random SDXL and a random real-layout PhotoMaker file:
the ID image is fused (by core PhotoMakerEncode) into the panels that hold the trigger word, after the first share of the
schedule, and the story then samples with consistent self-attention through KSampler."""

from __future__ import annotations

import pytest
import torch

CHARACTERS = "[Ann] a woman photomaker, red coat"
STORY = "[Ann] at a station\n[Ann] on a train\n[NC] a harbour at night"


def story_prompts(clip, characters: str = CHARACTERS, story: str = STORY, **photomaker):
    from kinema.nodes.storydiffusion_nodes import StoryPrompts

    return StoryPrompts.execute(clip, characters, story, "(No style)", "", 2, 64, 64, **photomaker).args


@pytest.mark.heavy
def test_photomaker_fuses_the_id_image_after_the_start_and_samples_with_consistent_attention(call_node, model_files,
                                                                                              free_in_process_models):
    import comfy.sd

    from kinema.comfy_glue.text import encode_prompt
    from kinema.nodes.storydiffusion_nodes import ConsistentSelfAttentionNode

    free_in_process_models()  # SDXL in fp32 on the CPU needs the room the earlier modules' models took
    try:
        photomaker = call_node("PhotoMakerLoader", photomaker_model_name=model_files["photomaker"].name)[0]
        model, clip, vae = call_node("CheckpointLoaderSimple", ckpt_name=model_files["sdxl"].name)
        image = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(2))
        positive, negative, latent, story = story_prompts(clip, photomaker=photomaker, photomaker_image=image, photomaker_start=0.2)
        (text_only, early), (fused, late) = positive
        assert (early["start_percent"], early["end_percent"], late["start_percent"], late["end_percent"]) == (0.0, 0.2, 0.2, 1.0)
        assert text_only.shape == fused.shape == (3, 77, 2048)
        torch.testing.assert_close(text_only[0:1], encode_prompt(clip, "a woman , red coat at a station")[0])  # no trigger word
        assert not torch.allclose(fused[:2], text_only[:2]), "the character's panels carry the ID image"
        torch.testing.assert_close(fused[2], text_only[2])  # the [NC] panel: text alone
        with pytest.raises(ValueError, match="no panel's prompt holds the trigger word 'photomaker'"):
            story_prompts(clip, "[Ann] a woman", "[Ann] a\n[Ann] b", photomaker=photomaker, photomaker_image=image)
        with pytest.raises(ValueError, match="story line 2 with its style is longer"):  # core masks the first 77 tokens only
            story_prompts(clip, story="[Ann] a\n[Ann] " + "very " * 80 + "far", photomaker=photomaker, photomaker_image=image)

        patched = ConsistentSelfAttentionNode.execute(model, story, 0.5, 0.5, 1.0, 1.0, 20, False, True, 8.0).args[0]
        samples = call_node("KSampler", model=patched, seed=3, steps=2, cfg=5.0, sampler_name="ddim", scheduler="ddim_uniform",
                            positive=positive, negative=negative, latent_image=latent, denoise=1.0)[0]["samples"]
        assert samples.shape == (3, 4, 8, 8) and torch.isfinite(samples).all()
        del model, clip, vae, patched
        free_in_process_models()
        _, sd15_clip, *_ = comfy.sd.load_checkpoint_guess_config(str(model_files["sd15"]), output_vae=False, output_model=False)
        with pytest.raises(ValueError, match="needs an SDXL checkpoint's text encoders"):
            story_prompts(sd15_clip, photomaker=photomaker, photomaker_image=image)
    finally:
        free_in_process_models()
