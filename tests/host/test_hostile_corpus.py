"""The hostile-input corpus through Kinema's nodes, the batch runner and a real server, inside this ComfyUI host.

Every file of scripts/fixtures/hostile_corpus.py is loaded by its Kinema loader node feeding its real consumer
(Apply Motion Module on the SD1.5 stand-in, the Interleaved-Frame Smoother on its VAE) and must end as its case
says: refused when the loader runs, in one sentence naming the file, what is wrong and the fix, never as a raw
Python exception, and without running anything the file carries (the code-carrying pickles' marker files never
appear). Prompt-level cases (path traversal, out-of-range numbers, unknown choices, odd image sizes) live here.
After every case the host still runs a prompt, and nothing was written outside the output folder. What other
modules already cover is listed in COVERED_ELSEWHERE, and checked to still be there.

Nothing samples, and every refusal comes before any sampling step. The SD1.5 stand-in and the v2 motion module are
loaded at most once: their loader nodes are in every prompt (so ComfyUI's cache keeps their outputs), ComfyUI runs a
refused loader before them, and only the comic-pages case needs the checkpoint (its text encoder).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from kinema_inputs import out_of_range, unknown_choices
from manifest_records import latest_records

from fixtures.hostile_corpus import (
    CASES,
    CATEGORIES,
    LOADERS,
    MOTION_LORAS,
    MOTION_MODELS,
    REFUSED_AT_EXECUTION,
    REFUSED_AT_VALIDATION,
    RIFE,
    RUNS,
    Case,
    OpensMarker,
    counts_by_category,
    pickled_code,
    write_corpus,
)
from kinema.runner import cli
from kinema.runner.remote import RemoteComfy
from kinema.runner.server_process import ComfyServer

PACK_ROOT = Path(__file__).resolve().parents[2]
CKPT, MM = "ckpt", "mm"  # the SD1.5 stand-in and the v2 motion module: in every prompt, so their outputs stay cached
LOAD, USE, SHOW = "load", "use", "show"
KINEMA_ERRORS = ("MotionModuleFileError", "MotionModuleFormatError", "MotionLoraFormatError", "RifeFileError")
RAW = ("AssertionError", "KeyError", "Traceback", "Exception when validating inner node")
OUTSIDE_MARKER = "outside.ran"


# -- the corpus, registered with this host ------------------------------------------------------------------------
@dataclasses.dataclass
class Corpus:
    root: Path

    @property
    def markers(self) -> Path:
        return self.root / "markers"

    @property
    def outside(self) -> Path:
        """A code-carrying pickle beside the model folders, where a traversing name would reach it."""
        return self.root / "outside" / "evil.ckpt"

    def ran(self) -> list[str]:
        """The marker files a payload created (none, ever)."""
        return sorted(path.name for path in self.markers.iterdir())


@pytest.fixture(scope="module")
def corpus(comfy_host, tmp_path_factory):
    import folder_paths

    corpus = Corpus(tmp_path_factory.mktemp("hostile-corpus"))
    write_corpus(corpus.root)
    corpus.outside.parent.mkdir()
    pickled_code(OpensMarker, zipped=True)(corpus.outside, corpus.markers / OUTSIDE_MARKER)
    for key in LOADERS:
        folder_paths.add_model_folder_path(key, str(corpus.root / key))
    yield corpus
    for key in LOADERS:
        folder_paths.folder_names_and_paths[key][0].remove(str(corpus.root / key))
        folder_paths.filename_list_cache.pop(key, None)  # its listing still names the corpus files; later tests list again


@pytest.fixture(scope="module")
def base(model_files) -> dict:
    return {CKPT: {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model_files["sd15"].name}},
            MM: {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": model_files["mm_v2"].name}}}


@pytest.fixture(scope="module")
def alive(comfy_host, base, free_in_process_models):
    """``alive()``: a tiny valid prompt still runs (Empty Latent Image -> Save Latent). The module's models go at its end."""
    prompt = {**base, "alive": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
              "save": {"class_type": "SaveLatent", "inputs": {"samples": ["alive", 0], "filename_prefix": "kinema-hostile/alive"}}}

    def check() -> None:
        result = comfy_host.run(prompt)
        assert result.success, f"the host no longer runs a valid prompt: {result.describe_failure()}"

    yield check
    free_in_process_models()  # the SD1.5 stand-in the comic case loaded: the next module loads its own copy


@pytest.fixture(scope="module")
def written(comfy_host, corpus, home, tmp_path_factory):
    """``written(*also_allowed)``: every path under the folders a hostile input could reach, the output folder left out."""
    comfy_host.object_info()  # building the node definitions makes ComfyUI's own input folders (0.3.75: input/3d) once
    deep = [corpus.root, comfy_host.paths.work]
    shallow = [tmp_path_factory.getbasetemp(), PACK_ROOT, home, comfy_host.paths.comfyui]

    def listing(*allowed: Path) -> set[str]:
        skip = [comfy_host.output_directory().resolve(), *(Path(folder).resolve() for folder in allowed)]
        paths = {path for root in deep for path in root.rglob("*")} | {path for root in shallow for path in root.iterdir()}
        return {str(path) for path in paths if not any(path.resolve().is_relative_to(folder) for folder in skip)}

    return listing


@pytest.fixture(autouse=True)
def no_payload_ran(corpus):
    yield
    assert corpus.ran() == [], "a pickle's payload ran"


# -- prompts ---------------------------------------------------------------------------------------------------------
def apply_node(motion_model: list, **inputs) -> dict:
    return {"class_type": "KinemaApplyMotionModule", "inputs": {
        "model": [CKPT, 0], "motion_model": motion_model, "scale": 1.0, "effect": 1.0, "beta_schedule": "autoselect", **inputs}}


def smoother_node(interpolator: list | None, **inputs) -> dict:
    node = {"class_type": "KinemaInterleavedFrameSmoother", "inputs": {
        "vae": [CKPT, 2], "odd_frames_at": 0.6, "even_frames_at": 0.62, "decode_batch": 4, **inputs}}
    if interpolator is not None:
        node["inputs"]["interpolator"] = interpolator
    return node


def loader_node(folder_key: str, name: str) -> dict:
    inputs = {"lora_name": name, "strength": 1.0} if folder_key == MOTION_LORAS else {"model_name": name}
    return {"class_type": LOADERS[folder_key], "inputs": inputs}


def loader_prompt(base: dict | None, folder_key: str, name: str) -> dict:
    """The loader feeding its consumer, then Preview Any; with no ``base`` (a server), the loader straight into Preview Any."""
    prompt = {LOAD: loader_node(folder_key, name), SHOW: {"class_type": "PreviewAny", "inputs": {"source": [USE, 0]}}}
    if base is None:
        prompt[SHOW]["inputs"]["source"] = [LOAD, 0]
        return prompt
    consumer = {MOTION_MODELS: lambda: apply_node([LOAD, 0]), MOTION_LORAS: lambda: apply_node([MM, 0], motion_lora=[LOAD, 0]),
                RIFE: lambda: smoother_node([LOAD, 0])}[folder_key]
    return {**base, **prompt, USE: consumer()}


def assert_outcome(result, outcome: str, node_id: str, node_type: str, says: tuple[str, ...], error_types: tuple[str, ...] = ()):
    """The outcome class exactly: ``says`` are the words the refusal must hold (the file or value, what is wrong, the fix)."""
    if outcome == RUNS:
        assert result.success, result.describe_failure()
        return
    assert not result.success, (f"expected {outcome} at node {node_id} ({node_type}); the prompt "
                                + (f"ran (node seconds: {result.node_seconds})" if result.node_seconds else "passed validation"))
    if outcome == REFUSED_AT_VALIDATION:
        assert (result.error or {}).get("type") == "prompt_outputs_failed_validation", f"expected {outcome}, got: {result.describe_failure()}"
        assert node_id in result.node_errors and result.node_errors[node_id]["class_type"] == node_type, result.node_errors
        message = json.dumps(result.node_errors[node_id]["errors"])
    else:
        error = result.error or {}
        assert error.get("node_id") == node_id and error.get("node_type") == node_type, f"expected {outcome}, got: {result.describe_failure()}"
        message = error["exception_message"]
        if error_types:
            assert error.get("exception_type", "").rsplit(".", 1)[-1] in error_types, f"{error.get('exception_type')}: {message}"
    assert not [raw for raw in RAW if raw in message], f"a raw Python error: {message}"
    missing = [word for word in says if word not in message]
    assert not missing, f"the refusal lacks {missing}: {message}"


# -- (1) every file of the corpus, by its loader node -----------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_corpus_file_is_refused_by_its_loader_node_and_the_host_serves_on(case: Case, corpus, base, comfy_host, alive, written):
    before = written()
    result = comfy_host.run(loader_prompt(base, case.folder_key, case.file_name))
    assert_outcome(result, case.outcome, LOAD, case.loader, (case.file_name, *case.says), KINEMA_ERRORS)
    assert corpus.ran() == []
    alive()
    assert written() == before


# -- (2) prompt-level cases ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PromptCase:
    category: str
    name: str
    build: Callable[[dict, Corpus], dict]  # build(base, corpus) -> the API prompt
    outcome: str
    node_id: str  # the node that must refuse it
    node_type: str
    says: Callable[[Corpus], tuple[str, ...]]


def _traversal(folder_key: str, name: Callable[[Corpus], str]) -> Callable[[dict, Corpus], dict]:
    return lambda base, corpus: loader_prompt(base, folder_key, name(corpus))


def _relative(corpus: Corpus) -> str:
    return "../outside/evil.ckpt"  # from any model folder of the corpus: its outside/evil.ckpt


def _absolute(corpus: Corpus) -> str:
    return str(corpus.outside)


def _saved_latent(prefix: Callable[[Corpus], str]) -> Callable[[dict, Corpus], dict]:
    return lambda base, corpus: {
        **base, "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "save": {"class_type": "SaveLatent", "inputs": {"samples": ["latent", 0], "filename_prefix": prefix(corpus)}}}


def _with(node_id: str, **inputs) -> Callable[[dict, Corpus], dict]:
    """A prompt whose node ``node_id`` gets ``inputs`` (see _PROMPTS)."""
    def build(base: dict, corpus: Corpus) -> dict:
        prompt = _PROMPTS[node_id](base)
        prompt[node_id]["inputs"].update(inputs)
        return prompt

    return build


def _story(base: dict) -> dict:
    return {**base, "story": {"class_type": "KinemaStoryPrompts", "inputs": {
        "clip": [CKPT, 1], "characters": "[Mira] a young woman with short red hair, green coat",
        "story": "[Mira] reads a map #Mira sets out.\n[Mira] walks along a cliff\n[Mira] waves from a boat #Far from home.",
        "style": "(No style)", "negative": "blurry", "id_length": 1, "width": 64, "height": 64}},
        SHOW: {"class_type": "PreviewAny", "inputs": {"source": ["story", 3]}}}


_PROMPTS: dict[str, Callable[[dict], dict]] = {
    USE: lambda base: {**base, USE: apply_node([MM, 0]), SHOW: {"class_type": "PreviewAny", "inputs": {"source": [USE, 0]}}},
    LOAD: lambda base: {**base, LOAD: loader_node(MOTION_LORAS, "json_github.ckpt"), USE: apply_node([MM, 0], motion_lora=[LOAD, 0]),
                        SHOW: {"class_type": "PreviewAny", "inputs": {"source": [USE, 0]}}},
    "smoother": lambda base: {**base, "smoother": smoother_node(None), SHOW: {"class_type": "PreviewAny", "inputs": {"source": ["smoother", 0]}}},
    "story": _story,
    "long": lambda base: {**base, "long": {"class_type": "KinemaControlVideoLongVideo", "inputs": {
        "model": [CKPT, 0], "key_frame_window": 0, "clip_attends_to": "both key frames"}},
        SHOW: {"class_type": "PreviewAny", "inputs": {"source": ["long", 0]}}},
}


def _frames(width: int, height: int) -> Callable[[dict, Corpus], dict]:
    """Two frames of ``width`` x ``height`` into Video Consistency Metrics."""
    return lambda base, corpus: {
        **base, "a": {"class_type": "EmptyImage", "inputs": {"width": width, "height": height, "batch_size": 1, "color": 0x204060}},
        "b": {"class_type": "EmptyImage", "inputs": {"width": width, "height": height, "batch_size": 1, "color": 0x406080}},
        "frames": {"class_type": "ImageBatch", "inputs": {"image1": ["a", 0], "image2": ["b", 0]}},
        "metrics": {"class_type": "KinemaVideoConsistencyMetrics", "inputs": {"images": ["frames", 0]}}}


def _comic(width: int, height: int) -> Callable[[dict, Corpus], dict]:
    """A one-panel story (one prompt to encode on the CPU) as an image of ``width`` x ``height``, typeset and saved."""
    def build(base: dict, corpus: Corpus) -> dict:
        prompt = _story(base)
        del prompt[SHOW]
        prompt["story"]["inputs"]["story"] = "[Mira] reads a map #Mira sets out."
        return {**prompt, "panels": {"class_type": "EmptyImage", "inputs": {"width": width, "height": height, "batch_size": 1, "color": 0x808080}},
                "pages": {"class_type": "KinemaComicPages", "inputs": {"images": ["panels", 0], "story": ["story", 3],
                                                                     "layout": "Four Panel", "seed": 0}},
                "save": {"class_type": "SaveImage", "inputs": {"images": ["pages", 0], "filename_prefix": "kinema-hostile/comic"}}}

    return build


def _with_comic(**inputs) -> Callable[[dict, Corpus], dict]:
    def build(base: dict, corpus: Corpus) -> dict:
        prompt = _comic(64, 64)(base, corpus)
        prompt["pages"]["inputs"].update(inputs)
        return prompt

    return build


def _words(*words: str) -> Callable[[Corpus], tuple[str, ...]]:
    return lambda corpus: words


V, X = REFUSED_AT_VALIDATION, REFUSED_AT_EXECUTION
NINE_PANELS = "\n".join(f"[Mira] scene {number}" for number in range(1, 10))  # enough identity panels for id_length 9
PROMPT_CASES: tuple[PromptCase, ...] = (
    # path traversal in model names: the name is not in the folder, whatever it points at (there is a pickle there)
    *(PromptCase("path-traversal", f"{kind}-name-{key}", _traversal(key, name), V, LOAD, LOADERS[key],
                 lambda corpus, name=name, key=key: (name(corpus), f"is not in any {key} folder"))
      for key in LOADERS for kind, name in (("relative", _relative), ("absolute", _absolute))),
    # path traversal in filename_prefix (core Save Latent refuses it when it runs; the runner before: test_batch_hostile_inputs.py)
    PromptCase("path-traversal", "relative-filename-prefix", _saved_latent(lambda corpus: "../../kinema-escape/latent"), X, "save",
               "SaveLatent", _words("outside the output folder")),
    PromptCase("path-traversal", "absolute-filename-prefix", _saved_latent(lambda corpus: str(corpus.root / "outside" / "escaped")), X,
               "save", "SaveLatent", _words("outside the output folder")),
    # numbers out of range and unknown choices in API prompts (NaN and infinity: test_node_input_checks.py)
    PromptCase("numbers", "effect-above-max", _with(USE, effect=1.5), V, USE, "KinemaApplyMotionModule",
               _words("effect is 1.5", "from 0.0 to 1.0")),
    PromptCase("numbers", "scale-below-min", _with(USE, scale=-0.5), V, USE, "KinemaApplyMotionModule", _words("scale is -0.5", "0.0 to 10.0")),
    PromptCase("numbers", "strength-below-min", _with(LOAD, strength=-10.5), V, LOAD, "KinemaLoadMotionLora",
               _words("strength is -10.5", "-10.0 to 10.0")),
    PromptCase("numbers", "odd-frames-at-above-max", _with("smoother", odd_frames_at=1.5), V, "smoother", "KinemaInterleavedFrameSmoother",
               _words("odd_frames_at is 1.5", "Set a value from 0 to 1.0")),
    PromptCase("numbers", "decode-batch-above-max", _with("smoother", decode_batch=257), V, "smoother", "KinemaInterleavedFrameSmoother",
               _words("decode_batch", "257", "256")),
    PromptCase("numbers", "story-width-below-min", _with("story", width=32), V, "story", "KinemaStoryPrompts", _words("width", "32", "64")),
    PromptCase("numbers", "story-id-length-above-max", _with("story", id_length=9, story=NINE_PANELS), V, "story", "KinemaStoryPrompts",
               _words("id_length", "9", "8")),
    PromptCase("numbers", "key-frame-window-above-max", _with("long", key_frame_window=5000), V, "long", "KinemaControlVideoLongVideo",
               _words("key_frame_window", "5000", "4096")),
    PromptCase("choices", "unknown-beta-schedule", _with(USE, beta_schedule="cosine_v9"), V, USE, "KinemaApplyMotionModule",
               _words("Apply Motion Module (Kinema): beta_schedule 'cosine_v9' is not one of its options", "pick one of those")),
    PromptCase("choices", "unknown-story-style", _with("story", style="Watercolour 3000"), V, "story", "KinemaStoryPrompts",
               _words("style", "Watercolour 3000")),
    PromptCase("choices", "unknown-clip-attends-to", _with("long", clip_attends_to="everything"), V, "long", "KinemaControlVideoLongVideo",
               _words("clip_attends_to", "everything")),
    PromptCase("choices", "unknown-comic-layout", _with_comic(layout="Manga Spread"), V, "pages", "KinemaComicPages",
               _words("layout", "Manga Spread")),
    # image sizes that are not multiples of 8, for the Kinema nodes that take images or sizes
    PromptCase("image-size", "story-width-not-multiple-of-8", _with("story", width=100), V, "story", "KinemaStoryPrompts",
               _words("width 100 is not a multiple of 8", "use 96 or 104")),
    PromptCase("image-size", "metrics-13x13-frames", _frames(13, 13), RUNS, "metrics", "KinemaVideoConsistencyMetrics", _words()),
    PromptCase("image-size", "metrics-7x7-frames", _frames(7, 7), X, "metrics", "KinemaVideoConsistencyMetrics",
               _words("Video Consistency Metrics", "at least 11 x 11 px", "7")),
    PromptCase("image-size", "comic-pages-from-100x60-panels", _comic(100, 60), RUNS, "pages", "KinemaComicPages", _words()),
)


@pytest.mark.parametrize("case", PROMPT_CASES, ids=lambda case: case.name)
def test_prompt_level_cases_end_as_their_class_and_the_host_serves_on(case: PromptCase, corpus, base, comfy_host, alive, written):
    before = written()
    prompt = case.build(base, corpus)
    # What must be refused at validation is only validated (run() validates first): a regression runs nothing.
    result = comfy_host.validate(prompt) if case.outcome == REFUSED_AT_VALIDATION else comfy_host.run(prompt)
    assert_outcome(result, case.outcome, case.node_id, case.node_type, case.says(corpus))
    alive()
    assert written() == before


# -- (3) the batch runner ---------------------------------------------------------------------------------------------
BATCH_CASES = ("code-open-zip-ckpt", "json-github-ckpt", "empty-rife-pkl", "header-length-10-gb", "zip-storage-record-missing",
               "motion-module-as-motion-lora")  # one per category


def test_representative_files_fail_their_batch_jobs_with_the_sentence(corpus, base, comfy_host, home, alive, written, tmp_path, capsys):
    cases = {case.name: case for case in CASES if case.name in BATCH_CASES}
    assert sorted(case.category for case in cases.values()) == sorted(CATEGORIES)
    folder, output = tmp_path / "workflows", tmp_path / "batch"
    folder.mkdir()
    for name, case in cases.items():
        (folder / f"{name}.json").write_text(json.dumps(loader_prompt(base, case.folder_key, case.file_name)))
    before = written(output)
    assert cli.main([str(folder), "--no-progress", "--output", str(output)], host=comfy_host, home=home) == 1
    assert f"0 done, 0 skipped (done before), {len(cases)} failed" in capsys.readouterr().out
    records = {Path(record["workflow"]).stem: record for record in latest_records(output / "manifest.jsonl")}
    assert records.keys() == cases.keys()
    for name, record in records.items():
        case = cases[name]
        assert record["status"] == "failed" and record["outputs"] == [], record
        assert f"node {LOAD} ({case.loader})" in record["error"], record["error"]
        missing = [word for word in (case.file_name, *case.says) if word not in record["error"]]
        assert not missing and not [raw for raw in RAW if raw in record["error"]], (missing, record["error"])
    alive()
    assert written(output) == before


def test_the_batch_runner_refuses_a_sweep_of_an_unknown_node_and_a_traversing_model_name(corpus, base, comfy_host, home, tmp_path,
                                                                                       capsys, written):
    workflow, output = tmp_path / "module.json", tmp_path / "batch"
    workflow.write_text(json.dumps(loader_prompt(base, MOTION_MODELS, "empty.ckpt")))
    before = written(output)

    def run(*args: str) -> int:
        return cli.main([str(workflow), "--no-progress", "--output", str(output), *args], host=comfy_host, home=home)

    assert run("--sweep", "NoSuchNode.seed=[1, 2]") == 2
    assert "no node with id or title 'NoSuchNode'" in capsys.readouterr().err
    assert not output.exists(), "nothing is written for a batch that cannot start"
    assert run("--set", f"{LOAD}.model_name=../outside/evil.ckpt") == 1
    (record,) = latest_records(output / "manifest.jsonl")
    assert record["status"] == "failed" and "'../outside/evil.ckpt' is not in any animatediff_models folder" in record["error"], record
    assert written(output) == before


# -- (4) the code-carrying pickles in a real server ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(corpus, comfy_host, tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile-server")
    with ComfyServer(python=Path(sys.executable), comfyui=comfy_host.paths.comfyui, work=work,
                     model_dirs={key: [corpus.root / key] for key in LOADERS}) as running:
        yield running


@pytest.mark.server
@pytest.mark.parametrize("case", [case for case in CASES if case.runs_code], ids=lambda case: case.name)
def test_code_carrying_pickles_run_nothing_in_a_server(case: Case, corpus, server):
    client = RemoteComfy(server.url)
    result = client.run(loader_prompt(None, case.folder_key, case.file_name))
    assert_outcome(result, case.outcome, LOAD, case.loader, (case.file_name, *case.says), KINEMA_ERRORS)
    assert corpus.ran() == []
    still = client.run({"latent": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                        SHOW: {"class_type": "PreviewAny", "inputs": {"source": ["latent", 0]}}})
    assert still.success and server.process.poll() is None, still.describe_failure()


# -- (5) the summary ------------------------------------------------------------------------------------------------------
COVERED_ELSEWHERE = {
    "every Kinema number just outside its range and every unknown choice": [
        "tests/host/test_node_input_checks.py::test_every_bounded_number_of_every_kinema_node_is_refused_just_outside_its_range",
        "tests/host/test_node_input_checks.py::test_every_choice_of_every_kinema_node_refuses_an_unknown_value"],
    "NaN and infinity in every Kinema FLOAT input (validation, links, API prompt)": [
        "tests/host/test_node_input_checks.py::test_every_kinema_float_input_refuses_nan_and_infinity_with_the_range_and_fix",
        "tests/host/test_node_input_checks.py::test_a_nan_effect_and_an_infinite_strength_are_refused_by_prompt_validation",
        "tests/host/test_node_input_checks.py::test_a_linked_value_is_refused_when_the_node_runs"],
    "frames over the motion module's limit without context windows, refused before sampling": [
        "tests/host/test_workflows.py::test_more_frames_than_the_module_covers_is_refused_before_sampling",
        "tests/host/test_batch_runner.py::test_a_failing_job_is_reported_with_its_node_error_and_retried_next_run"],
    "a motion module or motion LoRA for another model type (needs the full-size models)": [
        "tests/host/test_workflows.py::test_an_sd15_motion_module_is_refused_on_an_sdxl_model",
        "tests/host/test_workflows.py::test_a_v2_motion_lora_on_an_sdxl_module_is_refused_in_apply_motion_module"],
    "batch runner: malformed JSON, unknown node types, bad --set targets and --sweep ranges, unreachable servers": [
        "tests/host/test_batch_runner.py::test_malformed_json_names_the_file_and_line",
        "tests/host/test_batch_runner.py::test_unregistered_node_types_fail_before_anything_runs",
        "tests/host/test_batch_runner.py::test_bad_targets_and_unreachable_servers_are_named"],
    "batch runner: missing and self links, NaN/inf values, filename_prefix traversal via --set, dict values": [
        "tests/host/test_batch_hostile_inputs.py::test_bad_values_and_links_are_refused_before_anything_runs"],
    "loader functions on the same files (pickle protocols, every damaged zip, other RIFE versions)": [
        "tests/unit/motion_modules/test_mm_hostile_files.py::test_pickled_code_is_refused_by_name_and_not_run",
        "tests/unit/motion_modules/test_mm_hostile_files.py::test_a_damaged_zip_says_what_is_missing_not_code",
        "tests/unit/interpolation/test_rife_loading.py::test_stand_ins_and_damaged_archives_are_named_for_what_they_are"],
}
FILE_COUNTS = {"code": 6, "text": 8, "truncated": 7, "safetensors": 5, "zip": 4, "wrong-kind": 9}
PROMPT_COUNTS = {"path-traversal": 8, "numbers": 8, "choices": 4, "image-size": 4}


def test_the_corpus_summary(comfy_host, capsys):
    files, prompts = counts_by_category(), {}
    for case in PROMPT_CASES:
        prompts[case.category] = prompts.get(case.category, 0) + 1
    lines = ["hostile corpus:", f"  files ({len(CASES)}, each through its loader node in-process; {len(BATCH_CASES)} through the "
             f"batch runner; {sum(case.runs_code for case in CASES)} code-carrying ones over HTTP): "
             + ", ".join(f"{count} {category}" for category, count in files.items()),
             f"  prompt-level ({len(PROMPT_CASES)}): " + ", ".join(f"{count} {category}" for category, count in prompts.items()),
             f"  every Kinema node: {len(out_of_range())} bounded numbers just outside their range, "
             f"{len(unknown_choices())} choices with an unknown value",
             "  covered elsewhere:"]
    missing = []
    for what, references in COVERED_ELSEWHERE.items():
        lines.append(f"    {what}: {', '.join(references)}")
        for reference in references:
            path, test = reference.split("::")
            if not re.search(rf"^def {test}\(", (PACK_ROOT / path).read_text(), re.MULTILINE):
                missing.append(reference)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert files == FILE_COUNTS and prompts == PROMPT_COUNTS
    assert not missing, f"referenced tests are gone: {missing}"
