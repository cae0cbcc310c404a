"""The command line a ComfyUI server is started with fits what that ComfyUI declares (read from its source)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from kinema.runner.allocator import tuned_environment
from kinema.runner.server_process import ComfyServer

# Stands in for ComfyUI's main.py: notes its command line, whether --user-directory exists
# (newer ComfyUI refuses one that does not) and its malloc tunables, then exits before serving anything.
RECORDING_MAIN = """
import json, os, sys
from pathlib import Path

user = sys.argv[sys.argv.index("--user-directory") + 1]
record = {"argv": sys.argv[1:], "user_directory_exists": os.path.isdir(user), "tunables": os.environ.get("GLIBC_TUNABLES")}
(Path(__file__).parent / "argv.json").write_text(json.dumps(record))
sys.exit(3)
"""
OLD_CLI_ARGS = 'parser.add_argument("--disable-api-nodes", action="store_true", help="Disable loading all api nodes.")\n'
# as releases after 0.8.0 declare them: the new name, the old one kept as a deprecated alias
NEW_CLI_ARGS = ('parser.add_argument("--disable-partner-nodes", action="store_true", help="Disable loading all partner nodes.")\n'
                'parser.add_argument("--disable-api-nodes", action="store_true", help="Deprecated: use --disable-partner-nodes.")\n')


def _fake_comfyui(folder: Path, cli_args: str) -> Path:
    (folder / "comfy").mkdir(parents=True)
    (folder / "comfy" / "cli_args.py").write_text(cli_args)
    (folder / "main.py").write_text(RECORDING_MAIN)
    return folder


@pytest.mark.parametrize(("cli_args", "flag", "not_flag"), [
    (NEW_CLI_ARGS, "--disable-partner-nodes", "--disable-api-nodes"),
    (OLD_CLI_ARGS, "--disable-api-nodes", "--disable-partner-nodes"),
], ids=["declares-partner-nodes", "api-nodes-only"])
def test_partner_nodes_are_disabled_by_the_name_the_host_declares(tmp_path, cli_args, flag, not_flag):
    comfyui = _fake_comfyui(tmp_path / "ComfyUI", cli_args)
    server = ComfyServer(python=Path(sys.executable), comfyui=comfyui, work=tmp_path / "not-yet" / "work", startup_seconds=60)
    with pytest.raises(RuntimeError, match="exited with 3 while starting"):
        server.start()
    record = json.loads((comfyui / "argv.json").read_text())
    assert flag in record["argv"] and not_flag not in record["argv"]
    assert record["user_directory_exists"], "newer ComfyUI refuses a --user-directory that does not exist"
    assert record["tunables"] == tuned_environment(os.environ).get("GLIBC_TUNABLES"), "a server Kinema starts gets its malloc options"
