"""The FuseSoC core (``skiplstm.core``): its lint and sim targets through ``fusesoc run``, and
another project's core that instantiates a configured SkipLSTM through the generator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def fusesoc(args, cwd):
    env = dict(os.environ)
    # the generator runs `python3` from PATH: this interpreter, with the project installed
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    exe = shutil.which("fusesoc", path=env["PATH"])
    if exe is None:
        pytest.fail("fusesoc is not installed: pip install fusesoc==2.4.7 (make setup)")
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("target", ["lint", "sim"])
def test_core_targets(tmp_path, target):
    proc = fusesoc(["--cores-root", str(ROOT), "run", "--build-root", str(tmp_path / "b"),
                    "--target", target, "skiplstm:accel:skiplstm"], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    if target == "sim":
        assert "PASS: 16 steps, 256 h beats equal to the golden model" in out


USER_CORE = """CAPI=2:
name: example:demo:lstm_user:0.1.0
filesets:
  deps:
    depend: ["skiplstm:accel:skiplstm"]
  tb:
    files: [fusesoc_tb.v]
    file_type: verilogSource
generate:
  my_lstm:
    generator: skiplstm_gen
    parameters:
      config: mine.toml
      weights: {weights}
      test_steps: 6
targets:
  sim:
    default_tool: icarus
    filesets: [deps, tb]
    generate: [my_lstm]
    toplevel: tb_skiplstm
"""


def test_another_core_uses_the_generator(tmp_path):
    """A project's own core: its configuration and a trained bundle baked in (MNIST)."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "mine.toml").write_text((ROOT / "configs" / "mnist.toml").read_text()
                                    .replace('"skiplstm_mnist"', '"my_lstm"'))
    shutil.copy(ROOT / "sim" / "fusesoc_tb.v", proj / "fusesoc_tb.v")
    (proj / "lstm_user.core").write_text(USER_CORE.format(weights=ROOT / "models" / "mnist"))
    proc = fusesoc(["--cores-root", str(ROOT), "--cores-root", str(proj), "run",
                    "--build-root", str(tmp_path / "b"), "--target", "sim",
                    "example:demo:lstm_user"], proj)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "PASS: 6 steps, 768 h beats equal to the golden model" in out
