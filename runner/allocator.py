"""glibc malloc options for the processes Kinema starts itself (the demo, the batch runner,
the ComfyUI servers it launches, its Ray actors); never for a ComfyUI the user started.

Why: on a CPU, glibc serves every block above its mmap threshold (adaptive, at most
32 MiB) with a fresh mapping and unmaps it on free, and gives the top of its heap back
to the system whenever more than twice that threshold lies free there. A UNet call's
temporaries are mostly larger than that, so each sampling step has the kernel supply
(and zero) gigabytes of new pages: 0.45-1.1 million minor faults per step here, and how
many depends on what the process allocated before. With mapping off and trimming
raised, freed blocks stay in the heap and the next step reuses them
(bench/animatediff_sampler_step.py --allocators default kinema prints both).

The cost: memory freed by sampling stays with the process, up to ``TRIM_THRESHOLD``
above what is in use (``EmbeddedComfy.release_models`` still hands all of it back). Set
``KINEMA_ALLOCATOR=default`` to keep glibc's defaults; tunables you set yourself in
GLIBC_TUNABLES are kept and win over these.

Standard library only: the set-up scripts load this file before any host exists.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping

OPT_OUT = "KINEMA_ALLOCATOR"  # "default": leave the allocator as glibc ships it
TRIM_THRESHOLD = 2 * 1024**3  # free bytes at the heap's top the process keeps for the next step
KINEMA_TUNABLES = {
    "glibc.malloc.mmap_max": "0",  # no per-block mappings: large blocks come from the heap and return to it
    "glibc.malloc.trim_threshold": str(TRIM_THRESHOLD),
}


def merged_tunables(existing: str, ours: Mapping[str, str]) -> str:
    """GLIBC_TUNABLES ``existing`` with ``ours`` added where it does not name them already."""
    entries = [entry for entry in existing.split(":") if entry]
    named = {entry.split("=", 1)[0] for entry in entries}
    entries += [f"{name}={value}" for name, value in ours.items() if name not in named]
    return ":".join(entries)


def applies(env: Mapping[str, str]) -> bool:
    """Whether a child started with ``env`` on this machine gets Kinema's malloc options."""
    return platform.libc_ver()[0] == "glibc" and env.get(OPT_OUT, "").strip().lower() != "default"


def tuned_environment(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` for a process Kinema starts: GLIBC_TUNABLES with Kinema's malloc options (glibc reads it only
    at process start, so it is set for children, never changed in a running process)."""
    tuned = dict(env)
    if applies(env):
        tuned["GLIBC_TUNABLES"] = merged_tunables(env.get("GLIBC_TUNABLES", ""), KINEMA_TUNABLES)
    return tuned


def ray_runtime_env(env: Mapping[str, str]) -> dict:
    """Ray's runtime_env for the actors: a Ray node starts workers with its own environment, not the driver's."""
    tuned = tuned_environment(env)
    return {"env_vars": {"GLIBC_TUNABLES": tuned["GLIBC_TUNABLES"]}} if "GLIBC_TUNABLES" in tuned else {}
