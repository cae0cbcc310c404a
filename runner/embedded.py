"""Run ComfyUI in this process, without its HTTP server.

This is the runner's only contact with ComfyUI's execution internals (``nodes``,
``execution``, ``folder_paths``, ``comfy.cli_args``), the same calls ComfyUI's own
``main.py`` makes; the pack's node code never comes here. One ``EmbeddedComfy`` per
process: ComfyUI keeps its node registry and loaded models in module globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .model_paths import load_extra_model_paths
from .results import RunResult, output_files

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HostPaths:
    """Folders the embedded host reads and writes."""

    comfyui: Path
    output: Path
    work: Path  # input/, temp/, user/ live here, so runs never write into the ComfyUI tree
    model_dirs: dict[str, list[Path]] = dataclasses.field(default_factory=dict)  # folder key -> extra dirs


class _EventRecorder:
    """The server object PromptExecutor talks to: records events and per-node wall time."""

    def __init__(self) -> None:
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.last_prompt_id: str | None = None
        self.events: list[tuple[str, dict]] = []
        self.node_seconds: dict[str, float] = {}
        self.stop_requested = False
        self.on_event = None  # optional callback(event, data), e.g. a progress bar
        self._current: tuple[str, float] | None = None

    def send_sync(self, event: str, data: Any, sid: str | None = None) -> None:
        if not isinstance(data, dict):  # binary previews
            return
        self.events.append((event, data))
        if self.on_event is not None:
            self.on_event(event, data)
        if event == "executing" and data.get("node") is not None and self.stop_requested:
            # Sent just before a node runs: interrupting now stops the prompt between nodes.
            import nodes

            nodes.interrupt_processing(True)
        if event in ("executing", "execution_success", "execution_error", "execution_interrupted"):
            self._close_current_node()
            if event == "executing" and data.get("node") is not None:
                self._current = (str(data["node"]), time.perf_counter())

    def _close_current_node(self) -> None:
        if self._current is not None:
            node, started = self._current
            self.node_seconds[node] = self.node_seconds.get(node, 0.0) + time.perf_counter() - started
            self._current = None

    def queue_updated(self) -> None:
        pass

    def send_progress_text(self, text: str, node_id: str, sid: str | None = None) -> None:
        self.events.append(("progress_text", {"node": node_id, "text": text}))


class LogCollector(logging.Handler):
    """Keeps the messages of log records at or above ``level`` (e.g. ComfyUI's import warnings)."""

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level=level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def prepare_comfy_imports(comfyui: Path, argv: list[str] | None = None) -> None:
    """Make ``import comfy`` work in this process with the given ComfyUI command line.

    ComfyUI parses its command line once, at the first import of ``comfy.cli_args``;
    main.py enables that parsing, and so do we, with ``argv`` in place of ours. With no
    CUDA device, ``--cpu`` is implied (model_management would otherwise ask CUDA).
    """
    if str(comfyui) not in sys.path:
        sys.path.insert(0, str(comfyui))
    if "comfy.cli_args" in sys.modules:
        return
    import torch

    argv = list(argv or [])
    if not torch.cuda.is_available() and "--cpu" not in argv:
        argv.append("--cpu")
    import comfy.options

    comfy.options.enable_args_parsing()
    saved = sys.argv
    sys.argv = ["main.py", *argv]
    try:
        import comfy.cli_args  # noqa: F401  (parses sys.argv at import)
    finally:
        sys.argv = saved


def hand_back_free_heap() -> None:
    """Collect garbage and return glibc's free heap pages to the system (glibc keeps them for reuse otherwise)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc and hasattr(ctypes.CDLL(libc), "malloc_trim"):
        ctypes.CDLL(libc).malloc_trim(0)


class EmbeddedComfy:
    """Boot ComfyUI once, then validate and execute API-format prompts."""

    def __init__(self, paths: HostPaths, extra_args: tuple[str, ...] = ()) -> None:
        self.paths = paths
        self._argv = list(extra_args)
        self.import_warnings: list[str] = []
        self._executor = None
        self._recorder = _EventRecorder()

    # -- boot -----------------------------------------------------------------------------
    def boot(self) -> EmbeddedComfy:
        prepare_comfy_imports(self.paths.comfyui, self._argv)
        # ComfyUI's utils package first: importing nodes puts comfy/ (with its utils.py) at the
        # front of sys.path, after which "utils" would resolve to that module (main.py's order).
        importlib.import_module("utils.extra_config")
        import execution
        import folder_paths
        import hook_breaker_ac10a0
        import nodes

        self._configure_folders(folder_paths)
        collector = LogCollector(logging.WARNING)
        logging.getLogger().addHandler(collector)
        try:
            # As main.py does: snapshot core functions, load nodes, restore anything a pack replaced.
            hook_breaker_ac10a0.save_functions()
            asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
            hook_breaker_ac10a0.restore_functions()
        finally:
            logging.getLogger().removeHandler(collector)
        self.import_warnings = collector.messages
        # Every key any release reads (newer ones read "ram" and "ram_inactive", in GB, on every run);
        # with the CLASSIC cache no size or headroom applies.
        cache_args = {"lru": 0, "ram": 0.0, "ram_inactive": 0.0}
        self._executor = execution.PromptExecutor(self._recorder, cache_type=execution.CacheType.CLASSIC, cache_args=cache_args)
        return self

    def _configure_folders(self, folder_paths) -> None:
        # main.py's order: the user's extra_model_paths.yaml files first, our folders after them
        load_extra_model_paths(self.paths.comfyui)
        work = self.paths.work
        for sub in ("input", "temp", "user"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        self.paths.output.mkdir(parents=True, exist_ok=True)
        folder_paths.set_output_directory(str(self.paths.output))
        folder_paths.set_input_directory(str(work / "input"))
        folder_paths.set_temp_directory(str(work / "temp"))
        folder_paths.set_user_directory(str(work / "user"))
        for key, dirs in self.paths.model_dirs.items():
            for directory in dirs:
                folder_paths.add_model_folder_path(key, str(directory))

    # -- queries --------------------------------------------------------------------------
    @staticmethod
    def node_class(node_type: str):
        import nodes

        return nodes.NODE_CLASS_MAPPINGS.get(node_type)

    @staticmethod
    def node_types() -> dict[str, Any]:
        import nodes

        return dict(nodes.NODE_CLASS_MAPPINGS)

    @staticmethod
    def loaded_module_dirs() -> dict[str, str]:
        import nodes

        return dict(nodes.LOADED_MODULE_DIRS)

    @staticmethod
    def model_installed(file_name: str) -> bool:
        """Whether any model folder of the host holds a file of this name."""
        import folder_paths

        return any(
            folder_paths.get_full_path(key, file_name) is not None
            for key in list(folder_paths.folder_names_and_paths)
            if key not in ("custom_nodes", "configs")
        )

    @staticmethod
    def input_directory() -> Path:
        import folder_paths

        return Path(folder_paths.get_input_directory())

    @staticmethod
    def output_directory() -> Path:
        import folder_paths

        return Path(folder_paths.get_output_directory())

    @staticmethod
    def _resolve_output(entry: dict) -> Path:
        import folder_paths

        base = Path(folder_paths.get_directory_by_type(entry.get("type", "output")) or folder_paths.get_temp_directory())
        return base / entry.get("subfolder", "") / str(entry["filename"])  # checked before use (output_paths)

    # -- execution ------------------------------------------------------------------------
    def validate(self, prompt: dict) -> RunResult:
        import execution

        prompt_id = str(uuid.uuid4())
        ok, error, _, node_errors = asyncio.run(execution.validate_prompt(prompt_id, prompt, None))
        return RunResult(prompt_id=prompt_id, success=ok, error=None if ok else error, node_errors=node_errors)

    def run(self, prompt: dict, prompt_id: str | None = None, extra_pnginfo: dict | None = None) -> RunResult:
        """Validate and execute one API-format prompt; errors come back verbatim, never raised.

        ``extra_pnginfo`` goes into the metadata of saved files (ComfyUI's "workflow" key
        holds the UI graph, as the page sends it).
        """
        import execution

        if self._executor is None:
            raise RuntimeError("call boot() before run()")
        prompt_id = prompt_id or str(uuid.uuid4())
        started = time.perf_counter()
        ok, error, to_execute, node_errors = asyncio.run(execution.validate_prompt(prompt_id, prompt, None))
        if not ok:
            return RunResult(prompt_id, False, error=error, node_errors=node_errors, seconds=time.perf_counter() - started)
        recorder = self._recorder
        recorder.events, recorder.node_seconds = [], {}
        recorder.stop_requested = False  # a stop asked for between prompts belongs to no prompt
        recorder.last_prompt_id = prompt_id
        extra_data = {"client_id": "kinema-embedded", "extra_pnginfo": dict(extra_pnginfo or {})}
        self._executor.execute(prompt, prompt_id, extra_data=extra_data, execute_outputs=to_execute)
        outputs = self._executor.history_result.get("outputs", {})
        failure = next((data for event, data in recorder.events if event in ("execution_error", "execution_interrupted")), None)
        return RunResult(
            prompt_id=prompt_id,
            success=self._executor.success and failure is None,
            outputs=outputs,
            files=output_files(outputs, self._resolve_output),
            error=failure,
            node_seconds=dict(recorder.node_seconds),
            seconds=time.perf_counter() - started,
            interrupted=any(event == "execution_interrupted" for event, _ in recorder.events),
        )

    @staticmethod
    def show_step_progress(enabled: bool) -> None:
        """ComfyUI's own tqdm bars for sampler steps, on (its default) or off."""
        import comfy.utils

        comfy.utils.set_progress_bar_enabled(enabled)

    def release_models(self) -> None:
        """Drop cached node outputs and unload every model (as the page's "Unload models" button does), and hand the
        freed memory back to the system (glibc keeps freed heap pages for reuse otherwise)."""
        import comfy.model_management

        self._executor.reset()
        comfy.model_management.unload_all_models()
        hand_back_free_heap()

    def on_event(self, callback) -> None:
        """Call ``callback(event, data)`` for every execution event (executing, progress, executed ...); None removes it."""
        self._recorder.on_event = callback

    def stop_after_current_node(self) -> None:
        """Let the running node finish, then stop the prompt (safe to call from a signal handler)."""
        self._recorder.stop_requested = True

    @staticmethod
    def interrupt_now() -> None:
        """Stop the running prompt at its next check, inside the current node."""
        import nodes

        nodes.interrupt_processing(True)

    # -- node definitions -----------------------------------------------------------------
    def object_info(self) -> dict[str, dict]:
        """What the server's GET /object_info answers, built from the registered nodes in this process."""
        import nodes

        info = {}
        for node_type, node_class in nodes.NODE_CLASS_MAPPINGS.items():
            try:
                definition = _node_definition(node_type, node_class, nodes.NODE_DISPLAY_NAME_MAPPINGS)
                # plain JSON types, as served over HTTP (V3 definitions hold str enums of comfy_api)
                info[node_type] = json.loads(json.dumps(definition))
            except Exception as err:  # one broken third-party node must not hide all the others
                log.error("cannot describe node type %s: %s", node_type, err)
        return info


def _node_definition(node_type: str, node_class, display_names: dict[str, str]) -> dict[str, Any]:
    """One node's /object_info entry: V3 nodes describe themselves; V1 nodes are read off their class attributes."""
    if hasattr(node_class, "GET_NODE_INFO_V1"):
        return node_class.GET_NODE_INFO_V1()
    inputs = node_class.INPUT_TYPES()
    outputs = node_class.RETURN_TYPES
    definition = {
        "input": inputs,
        "input_order": {group: list(specs) for group, specs in inputs.items()},
        "output": outputs,
        "output_is_list": getattr(node_class, "OUTPUT_IS_LIST", [False] * len(outputs)),
        "output_name": getattr(node_class, "RETURN_NAMES", outputs),
        "name": node_type,
        "display_name": display_names.get(node_type, node_type),
        "description": getattr(node_class, "DESCRIPTION", ""),
        "python_module": getattr(node_class, "RELATIVE_PYTHON_MODULE", "nodes"),
        "category": getattr(node_class, "CATEGORY", "sd"),
        "output_node": bool(getattr(node_class, "OUTPUT_NODE", False)),
    }
    if hasattr(node_class, "OUTPUT_TOOLTIPS"):
        definition["output_tooltips"] = node_class.OUTPUT_TOOLTIPS
    for flag in ("DEPRECATED", "EXPERIMENTAL"):
        if getattr(node_class, flag, False):
            definition[flag.lower()] = True
    if hasattr(node_class, "API_NODE"):
        definition["api_node"] = node_class.API_NODE
    return definition


@contextlib.contextmanager
def quiet_comfy_logging(level: int = logging.WARNING):
    """ComfyUI logs a lot at INFO; callers that print their own progress can lower it."""
    root = logging.getLogger()
    saved = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(saved)
