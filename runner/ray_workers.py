"""Scale-out on Ray: actors that each hold one embedded ComfyUI (one GPU each where GPUs exist).

Every Ray node needs this pack and its ComfyUI host at the same paths as the driver
(README: "Batch runs on a Ray cluster"). Actors send their output files back as bytes,
so the driver's output folder and manifest hold everything, shared disk or not.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .job_plan import Job
from .output_paths import check_entries
from .results import RunResult
from .workers import WorkerLost, output_metadata


@dataclasses.dataclass(frozen=True)
class ActorSetup:
    """What an actor needs to boot its host (paths as seen on the Ray node)."""

    pack_root: str
    comfyui: str
    work_root: str
    model_dirs: dict[str, list[str]]


def _import_pack(pack_root: Path, name: str) -> None:
    """Import the pack from its folder as ``name``: a Ray worker gets this module by value, and no name to import the pack by."""
    import importlib.util
    import sys

    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, pack_root / "__init__.py", submodule_search_locations=[str(pack_root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


class ComfyActor:
    """Runs inside a Ray worker process (the class is wrapped by ray.remote in ``start_actors``)."""

    def __init__(self, setup: ActorSetup, actor_index: int) -> None:
        import tempfile

        _import_pack(Path(setup.pack_root), "kinema")
        from kinema.runner.embedded import EmbeddedComfy, HostPaths, prepare_comfy_imports

        prepare_comfy_imports(Path(setup.comfyui))
        Path(setup.work_root).mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"actor{actor_index}-", dir=setup.work_root))
        model_dirs = {key: [Path(d) for d in dirs] for key, dirs in setup.model_dirs.items()}
        paths = HostPaths(comfyui=Path(setup.comfyui), output=work / "output", work=work, model_dirs=model_dirs)
        self.work = work
        self.host = EmbeddedComfy(paths).boot()

    def object_info(self) -> dict:
        return self.host.object_info()

    def ready(self) -> bool:
        return True

    def discard_files(self) -> None:
        """At the end of the batch: every output already went back to the driver."""
        import shutil

        shutil.rmtree(self.work, ignore_errors=True)

    def run(self, prompt: dict, metadata: dict) -> dict:
        """Run one prompt; saved files travel back as (path under the output folder, bytes).

        The originals stay, as in embedded mode: ComfyUI may serve a later prompt's unchanged
        output node from its cache with these very files.
        """
        from kinema.runner.workers import saved_files  # this class travels by value: pack imports happen here

        result = self.host.run(prompt, extra_pnginfo=metadata)
        output_directory = self.host.output_directory()
        files = [(str(path.relative_to(output_directory)), path.read_bytes()) for path in saved_files(result.files, output_directory)]
        fields = dataclasses.asdict(result)
        fields["files"] = []
        # plain JSON types: the driver may not have ComfyUI importable to unpickle its objects
        return {"result": json.loads(json.dumps(fields, default=str)), "files": files}


class RayWorker:
    """Driver-side handle of one actor: same interface as the other workers."""

    def __init__(self, actor, name: str) -> None:
        self.actor = actor
        self.name = name

    def object_info(self) -> dict:
        import ray

        return ray.get(self.actor.object_info.remote())

    def run(self, job: Job, staging: Path) -> RunResult:
        import ray

        try:
            answer = ray.get(self.actor.run.remote(job.prompt, output_metadata(job)))
        except ray.exceptions.RayActorError as err:
            raise WorkerLost(f"{self.name} died: {err}") from err
        result = RunResult(**answer["result"])
        check_entries([{"filename": Path(relative).name, "subfolder": Path(relative).parent.as_posix()}
                       for relative, _ in answer["files"]], self.name)
        for relative, payload in answer["files"]:
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload)
            result.files.append(target)
        return result

    def close(self) -> None:
        """Remove the actor's work folder; an actor that died keeps its folder on its node."""
        import ray

        try:
            ray.get(self.actor.discard_files.remote(), timeout=60)
        except ray.exceptions.RayError:
            pass


def start_actors(address: str | None, setup: ActorSetup, count: int | None, start_seconds: float = 600.0) -> list[RayWorker]:
    """Connect to Ray (a cluster address, or a local Ray when None) and start one actor per GPU (or ``count``)."""
    import os
    import sys

    import ray

    from .allocator import ray_runtime_env

    # Ray workers cannot import this pack by name (ComfyUI names it by folder): ship the actor class by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address=address or None, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    count = count or max(gpus, 1)
    # Each Ray node starts its workers in its own environment: the malloc options (runner/allocator.py) travel along.
    actor_class = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1 if not gpus else 0, max_restarts=0,
                             runtime_env=ray_runtime_env(os.environ) or None)(ComfyActor)
    actors = [actor_class.remote(setup, index) for index in range(count)]
    # An actor the cluster has no room for is never scheduled: say so instead of waiting forever.
    ready, waiting = ray.wait([actor.ready.remote() for actor in actors], num_returns=count, timeout=start_seconds)
    if waiting:
        resources = ray.available_resources()
        raise ConnectionError(f"only {len(ready)} of {count} Ray actors started within {start_seconds:.0f} s "
                              f"(each needs {'1 GPU' if gpus else '1 CPU'}; available: {resources.get('GPU', 0):g} GPU, "
                              f"{resources.get('CPU', 0):g} CPU); ask for fewer with --ray-actors")
    try:
        ray.get(ready)
    except ray.exceptions.RayError as err:
        raise ConnectionError(f"a Ray actor could not boot its ComfyUI: {err}") from err
    return [RayWorker(actor, f"ray actor {index}") for index, actor in enumerate(actors)]
