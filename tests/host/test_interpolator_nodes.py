"""The interpolator nodes inside a real ComfyUI: both load and run, the RIFE loader finds files in
models/rife (the random real-layout flownet.pkl) and refuses missing and wrong files in sentences."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

OPTICAL_FLOW = "KinemaOpticalFlowInterpolator"
RIFE = "KinemaLoadRIFEInterpolator"


def node_class(node_type: str):
    import nodes

    return nodes.NODE_CLASS_MAPPINGS[node_type]


def frames(height: int = 48, width: int = 64, shift: int = 0, seed: int = 0) -> torch.Tensor:
    """A smooth seeded image [1, H, W, 3] whose content has moved ``shift`` px right."""
    noise = torch.rand(1, 3, height // 4, (width + 32) // 4, generator=torch.Generator().manual_seed(seed))
    smooth = torch.nn.functional.interpolate(noise, size=(height, width + 32), mode="bicubic", align_corners=False).clamp(0, 1)
    return smooth[..., 16 - shift:16 - shift + width].permute(0, 2, 3, 1).contiguous()  # [1, 3, H, W] -> [1, H, W, 3]


@pytest.fixture
def rife_folder(comfy_host, tmp_path):
    """An extra models/rife folder for this test only."""
    import folder_paths

    from kinema.comfy_glue import folders

    folder = tmp_path / "rife"
    folder.mkdir()
    paths = folder_paths.folder_names_and_paths[folders.RIFE][0]
    paths.append(str(folder))
    yield folder
    paths.remove(str(folder))


@pytest.mark.parametrize("node_type,display_name", [(OPTICAL_FLOW, "Optical Flow Interpolator (Kinema)"),
                                                    (RIFE, "Load RIFE Interpolator (Kinema)")])
def test_both_nodes_are_registered_with_the_interpolator_type(comfy_host, node_type, display_name):
    import nodes

    cls = node_class(node_type)
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS[node_type] == display_name
    assert list(cls.RETURN_TYPES) == ["KINEMA_INTERPOLATOR"] and cls.CATEGORY == "Kinema/ControlVideo"


def test_the_optical_flow_node_puts_a_moved_frame_halfway(call_node):
    (interpolator,) = call_node(OPTICAL_FLOW, quality="medium")
    first, second = frames(shift=0), frames(shift=8)
    middle = interpolator(torch.cat([first, first]), torch.cat([second, first]))
    assert middle.shape == (2, 48, 64, 3) and middle.dtype == first.dtype
    inner = (slice(None), slice(8, 40), slice(12, 52))
    assert (middle[0:1][inner] - frames(shift=4)[inner]).abs().mean() < 0.01  # 8 px apart: the middle is 4 px along
    assert (middle[1:2] - first).abs().max() <= 1e-6  # a frame with itself comes back unchanged


def test_the_optical_flow_node_refuses_an_unknown_quality(comfy_host):
    message = node_class(OPTICAL_FLOW).validate_inputs(quality="best")
    assert message.startswith("Optical Flow Interpolator (Kinema): quality 'best' is not one of its options (medium, fast, "
                              "ultrafast); pick one of those")


def test_models_rife_is_registered_first_once_and_lists_pkl_files(comfy_host):
    import folder_paths

    from kinema.comfy_glue import folders

    folders.register_model_folders()  # again: registering is idempotent
    paths = folder_paths.get_folder_paths(folders.RIFE)
    assert Path(paths[0]) == Path(folder_paths.models_dir) / "rife" and len(paths) == len(set(paths))
    assert ".pkl" in folder_paths.folder_names_and_paths[folders.RIFE][1]


def test_the_rife_loader_lists_the_file_in_models_rife_and_runs_it(call_node, model_files):
    path = model_files["rife"]
    cls = node_class(RIFE)
    options = cls.INPUT_TYPES()["required"]["model_name"]
    assert path.name in str(options)  # the combo, as the frontend receives it
    assert cls.validate_inputs(model_name=path.name) is True
    (interpolator,) = call_node(RIFE, model_name=path.name)
    first, second = torch.cat([frames(37, 50, seed=1), frames(37, 50, seed=2)]), torch.cat([frames(37, 50, seed=3), frames(37, 50, seed=4)])
    middle = interpolator(first, second)
    assert middle.shape == (2, 37, 50, 3) and middle.dtype == first.dtype and middle.device == first.device
    assert 0.0 <= middle.min() and middle.max() <= 1.0
    assert torch.equal(interpolator(first, second), middle)


def test_a_missing_rife_file_is_refused_before_running_with_the_folders_searched(comfy_host):
    message = node_class(RIFE).validate_inputs(model_name="flownet-not-installed.pkl")
    assert message.startswith("'flownet-not-installed.pkl' is not in any rife folder (searched: ")
    assert "models" in message and message.endswith("put the file there or pick another.")


@pytest.mark.parametrize("content,expected", [
    ({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(320, 4, 3, 3)},
     "the file is a Stable Diffusion checkpoint, not RIFE IFNet HDv3"),
    ({"block0.conv0.0.0.weight": torch.zeros(45, 11, 3, 3)}, "119 of the 120 expected keys are missing"),
], ids=["sd-checkpoint", "truncated-state-dict"])
def test_a_wrong_file_in_models_rife_is_refused_by_the_loader_with_the_fix(call_node, rife_folder, content, expected):
    path = rife_folder / "flownet.pkl"
    torch.save(content, path)
    with pytest.raises(ValueError) as refused:
        call_node(RIFE, model_name="flownet.pkl")
    message = str(refused.value)
    assert type(refused.value).__name__ == "RifeFileError"  # the class of the pack copy ComfyUI loaded
    assert message.startswith(f"{path}: ") and expected in message
    assert message.endswith("Put ControlVideo's checkpoints/flownet.pkl (RIFE HDv3, about 12 MB) in models/rife and pick it.")
