"""RIFE weights files: the fixture has the published layout, it loads exactly, and every other file is refused in a sentence.

The fixture writer (scripts/fixtures/rife_files.py) spells the layout out on its own, from the
published network definition; here it is compared with the network our loader builds.
"""

from __future__ import annotations

import collections
import math
import re
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from fixtures.hostile_corpus import JSON_ERRORS, LFS_POINTER, damaged_zip
from kinema.interpolation.rife import RifeFileError, load_rife
from kinema.interpolation.rife.ifnet import RifeFlowNet

FIX = r"Put ControlVideo's checkpoints/flownet\.pkl \(RIFE HDv3, about 12 MB\) in models/rife and pick it\."


class NotWeights:
    """A class a weights-only unpickler refuses."""


def test_the_fixture_has_the_published_layout(rife_file):
    assert zipfile.is_zipfile(rife_file), "torch.save's zip container"
    raw = torch.load(rife_file, map_location="cpu", weights_only=True)
    assert type(raw) is collections.OrderedDict and len(raw) == 160
    assert all(key.startswith("module.") for key in raw)
    assert {value.dtype for value in raw.values()} == {torch.float32}
    assert sum(value.numel() for value in raw.values()) == 3_038_015
    assert raw._metadata[""] == {"version": 1} and "module.block_tea.conv2.2" in raw._metadata  # a state dict's bookkeeping
    shapes = {key: tuple(value.shape) for key, value in raw.items()}
    assert shapes["module.block0.conv0.0.0.weight"] == (45, 11, 3, 3)
    assert shapes["module.block_tea.conv0.0.0.weight"] == (45, 14, 3, 3)  # the teacher also sees the true middle frame
    assert shapes["module.block2.conv1.0.weight"] == (90, 45, 4, 4) and shapes["module.block2.conv1.2.weight"] == (45, 4, 4, 4)
    assert shapes["module.block1.conv2.2.weight"] == (45, 1, 4, 4) and shapes["module.block1.convblock3.1.1.weight"] == (90,)


def test_our_network_has_exactly_the_files_inference_keys_and_shapes(rife_writer):
    ours = {key: tuple(value.shape) for key, value in RifeFlowNet().state_dict().items()}
    published = {key.removeprefix("module."): shape for key, shape in rife_writer.published_template().items()}
    assert ours == {key: shape for key, shape in published.items() if not key.startswith("block_tea.")}
    assert len(ours) == 120 and sum(math.prod(shape) for shape in ours.values()) == 3 * 759_200


def test_loading_takes_every_inference_weight_from_the_file(rife_file):
    raw = torch.load(rife_file, map_location="cpu", weights_only=True)
    network = load_rife(rife_file)
    state = network.state_dict()
    assert all(torch.equal(state[key], raw["module." + key]) for key in state)
    assert not network.training and not any(parameter.requires_grad for parameter in network.parameters())


@pytest.mark.parametrize("prefix,teacher,suffix", [("", True, ".pkl"), ("module.", False, ".pth"), ("", False, ".safetensors")],
                         ids=["no-prefix", "no-teacher", "safetensors"])
def test_stripped_copies_of_the_file_load_the_same_weights(rife_writer, rife_file, tmp_path, prefix, teacher, suffix):
    path = tmp_path / f"flownet{suffix}"
    if suffix == ".safetensors":
        save_file(dict(rife_writer.state_dict(prefix, teacher)), str(path))
    else:
        rife_writer.write_rife(path, prefix=prefix, teacher=teacher)
    copy, original = load_rife(path).state_dict(), load_rife(rife_file).state_dict()
    assert all(torch.equal(copy[key], original[key]) for key in original)


def _refused(path, *patterns: str) -> str:
    with pytest.raises(RifeFileError) as refused:
        load_rife(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: "), message
    for pattern in patterns:
        assert pattern in message, message
    return message


def test_a_stable_diffusion_checkpoint_is_refused_with_what_it_is(tmp_path):
    path = tmp_path / "v1-5-pruned-emaonly.pkl"
    torch.save({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(320, 4, 3, 3),
                "first_stage_model.decoder.conv_out.weight": torch.zeros(3, 128, 3, 3)}, path)
    message = _refused(path, "the file is a Stable Diffusion checkpoint, not RIFE IFNet HDv3",
                       "120 of the 120 expected keys are missing (e.g. block0.conv0.0.0.weight",
                       "2 keys are not RIFE's (e.g. model.diffusion_model.input_blocks.0.0.weight")
    assert re.search(FIX, message), message


def test_a_truncated_state_dict_is_refused_with_the_missing_keys(rife_writer, tmp_path):
    state = rife_writer.state_dict()
    for key in [key for key in state if key.startswith("module.block2.")]:
        del state[key]
    path = tmp_path / "flownet.pkl"
    torch.save(state, path)
    _refused(path, "another model or an incomplete copy, not RIFE IFNet HDv3", "40 of the 120 expected keys are missing (e.g. block2.conv0.0.0.weight")


def test_a_truncated_file_is_refused_as_damaged(rife_file, tmp_path):
    path = tmp_path / "flownet.pkl"
    path.write_bytes(rife_file.read_bytes()[: rife_file.stat().st_size // 2])
    _refused(path, "the file is a damaged PyTorch zip archive (the list of its files at the end is missing", "Download flownet.pkl again")


def test_another_rife_version_is_named(tmp_path):
    path = tmp_path / "flownet.pkl"  # Practical-RIFE 4.x keeps the name but not the network
    torch.save({"block0.conv0.0.0.weight": torch.zeros(48, 7, 3, 3), "block0.convblock.0.beta": torch.zeros(1, 192, 1, 1),
                "block0.lastconv.0.weight": torch.zeros(192, 24, 4, 4)}, path)
    _refused(path, "a RIFE 4.x flownet.pkl (Practical-RIFE), a different network, not RIFE IFNet HDv3")


def test_tensors_of_other_shapes_are_refused_with_examples(rife_writer, tmp_path):
    state = rife_writer.state_dict()
    state["module.block1.conv0.0.0.weight"] = torch.zeros(45, 8, 3, 3)
    path = tmp_path / "flownet.pkl"
    torch.save(state, path)
    _refused(path, "the file has the keys of RIFE IFNet HDv3 but 1 tensor of other shapes, e.g. block1.conv0.0.0.weight [45, 8, 3, 3] (expected [45, 11, 3, 3])")


@pytest.mark.parametrize("content,patterns", [
    (b"", ("the file is empty (0 bytes)", "Download flownet.pkl again")),
    (b"<!DOCTYPE html><html><body>Sign in</body></html>", ("the file is a web page (HTML), not weights", "Download the file itself")),
], ids=["empty", "html"])
def test_files_that_are_not_weights_at_all_are_refused(tmp_path, content, patterns):
    path = tmp_path / "flownet.pkl"
    path.write_bytes(content)
    _refused(path, *patterns)


def test_pickled_objects_are_refused_without_being_run(tmp_path):
    path = tmp_path / "flownet.pkl"
    torch.save({"block0.conv0.0.0.weight": torch.zeros(1), "extra": NotWeights()}, path)
    _refused(path, "refused to load: the file holds pickled Python objects besides weights (nothing in it was executed)")


def test_a_missing_file_and_a_non_dict_are_refused(tmp_path):
    _refused(tmp_path / "absent.pkl", "the file does not exist")
    path = tmp_path / "list.pkl"
    torch.save([torch.zeros(1)], path)
    _refused(path, "the file holds a list, not a dict of weights")


@pytest.mark.parametrize("write,patterns", [
    (lambda path: path.write_bytes(LFS_POINTER),
     (f"the file is a Git LFS pointer of {len(LFS_POINTER)} bytes, not the model", "git lfs pull")),
    (lambda path: path.write_bytes(JSON_ERRORS["github"]),
     ('the file is a JSON document (an error page from a download: {"error":"Repository not found"}), not weights', "access token")),
    (lambda path: damaged_zip(path, "integer persistent id"),
     ("the file is a damaged PyTorch zip archive (data.pkl refers to tensor data as 0,", "Download flownet.pkl again")),
    (lambda path: damaged_zip(path, "data.pkl garbage"),
     ("the file is a damaged PyTorch zip archive (its data.pkl is not a readable pickle", "Download flownet.pkl again")),
], ids=["lfs-pointer", "json-error", "integer-persistent-id", "garbage-data-pkl"])
def test_stand_ins_and_damaged_archives_are_named_for_what_they_are(tmp_path, write, patterns):
    path = tmp_path / "flownet.pkl"
    write(path)
    assert "pickled" not in _refused(path, *patterns)
