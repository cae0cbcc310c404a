"""runner/allocator.py: the malloc options of the processes Kinema starts, and that glibc honours them."""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from kinema.runner.allocator import KINEMA_TUNABLES, OPT_OUT, merged_tunables, ray_runtime_env, tuned_environment

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
import host_setup  # noqa: E402

BLOCK = 64 * 1024**2  # above glibc's largest adaptive mmap threshold (32 MiB): by default always a fresh mapping
PAGES = BLOCK // 4096

# A sampling step in miniature: allocate a large block, write it, free it; the faults of each later cycle are the pages
# the kernel had to supply again.
CYCLES_CHILD = f"""
import ctypes, ctypes.util, json, resource
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc({BLOCK})
    ctypes.memset(block, 1, {BLOCK})
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(faults))
"""


def _faults_per_cycle(env: dict[str, str]) -> list[int]:
    completed = subprocess.run([sys.executable, "-c", CYCLES_CHILD], env=env, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(completed.stdout)


def _without_tunables() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ("GLIBC_TUNABLES", OPT_OUT)}


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="GLIBC_TUNABLES is read by glibc only")
def test_a_started_process_reuses_its_heap_where_glibc_defaults_fault_every_block_in_again():
    default = _faults_per_cycle(_without_tunables())
    tuned = _faults_per_cycle(tuned_environment(_without_tunables()))
    assert all(faults > 0.9 * PAGES for faults in default[1:]), f"glibc defaults: {default} faults per cycle"
    assert tuned[0] > 0.9 * PAGES, f"the first block is faulted in once: {tuned}"
    assert all(faults < 0.01 * PAGES for faults in tuned[1:]), f"Kinema's options: {tuned} faults per cycle"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="GLIBC_TUNABLES is read by glibc only")
def test_without_the_raised_trim_threshold_the_freed_block_goes_back_and_faults_in_again():
    """Both options are needed: with mapping off alone, glibc trims the freed block off its heap's top."""
    env = _without_tunables()
    env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0"
    assert all(faults > 0.9 * PAGES for faults in _faults_per_cycle(env)[1:])


def test_the_users_own_tunables_are_kept_and_win():
    merged = merged_tunables("glibc.malloc.trim_threshold=1024:glibc.cpu.hwcaps=-AVX2", KINEMA_TUNABLES)
    entries = merged.split(":")
    assert entries[:2] == ["glibc.malloc.trim_threshold=1024", "glibc.cpu.hwcaps=-AVX2"]
    assert entries[2:] == ["glibc.malloc.mmap_max=0"], "only the options the user left unset are added"
    assert merged_tunables("", KINEMA_TUNABLES) == ":".join(f"{name}={value}" for name, value in KINEMA_TUNABLES.items())


def test_opting_out_leaves_the_environment_as_it_was():
    env = {"PATH": "/usr/bin", OPT_OUT: "default"}
    assert tuned_environment(env) == env
    assert ray_runtime_env(env) == {}


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="GLIBC_TUNABLES is read by glibc only")
@pytest.mark.parametrize("script", ["demo", "batch"])
def test_the_demo_and_the_batch_runner_relaunch_themselves_with_the_options(script, monkeypatch, tmp_path):
    """Their first stage builds (here: is handed) the host and execs its Python; that process gets the options."""
    host = host_setup.Host(comfyui=tmp_path / "ComfyUI", python=tmp_path / "python", home=tmp_path, root=tmp_path,
                           label="0.8.0", user_owned=False)
    module = importlib.import_module(script)
    started = {}
    monkeypatch.setattr(host_setup, "ensure_host", lambda: host)
    monkeypatch.setattr(host_setup, "install_runner_requirements", lambda _host: None)
    monkeypatch.setattr(os, "execve", lambda path, argv, env: started.update(path=path, env=env))
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv(OPT_OUT, raising=False)
    module.relaunch_in_host()
    assert started["path"] == str(host.python)
    assert started["env"]["GLIBC_TUNABLES"] == tuned_environment({})["GLIBC_TUNABLES"]
    assert started["env"]["COMFYUI_PATH"] == str(host.comfyui), "and everything else the host's environment holds"
    assert "GLIBC_TUNABLES" not in host.env(), "the test tiers run in the allocator a user's own ComfyUI has"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="GLIBC_TUNABLES is read by glibc only")
def test_ray_actors_are_handed_the_options_for_every_node():
    assert ray_runtime_env({}) == {"env_vars": {"GLIBC_TUNABLES": tuned_environment({})["GLIBC_TUNABLES"]}}
