"""What a new user meets when something is wrong: every case ends in one paragraph that names
the field or file, the value and what is allowed, a non-zero exit status and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL = 'name = "tiny"\ninput_size = 3\nhidden_size = 8\nlanes = 2\n'


def _npz(tmp, name="w.npz"):
    rng = np.random.default_rng(0)
    path = tmp / name
    np.savez(path, weight_ih=rng.normal(size=(32, 3)), weight_hh=rng.normal(size=(32, 8)),
             bias_ih=rng.normal(size=32))
    return path


def _write(tmp, name, text):
    path = tmp / name
    path.write_text(text)
    return path


def _truncated(tmp):
    data = _npz(tmp).read_bytes()
    return _write_bytes(tmp / "truncated.npz", data[:len(data) // 2])


def _bitflip(tmp):
    path = _npz(tmp, "flipped.npz")
    with zipfile.ZipFile(path) as z:                 # flip a bit inside the first array's data
        info = z.infolist()[0]
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + info.extra.__len__() + 100] ^= 0x10
    return _write_bytes(path, bytes(data))


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def _bundle_corrupt(tmp):
    import shutil
    dst = tmp / "bundle"
    shutil.copytree(ROOT / "models" / "mnist", dst)
    data = (dst / "params.npz").read_bytes()
    (dst / "params.npz").write_bytes(data[:-100])
    return dst


GEN = [sys.executable, "-m", "flow.generate"]
CLI = [sys.executable, "-m", "skiplstm"]

# (case id, command builder(tmp) -> argv, words the message must contain, exit status)
CASES = [
    ("config-missing-hidden-size",
     lambda t: GEN + ["--config", str(_write(t, "c.toml", "input_size = 3\n")), "--out", str(t)],
     ["c.toml", "'hidden_size' is missing", "required"], 2),
    ("config-empty",
     lambda t: GEN + ["--config", str(_write(t, "empty.toml", "")), "--out", str(t)],
     ["empty.toml", "'input_size' is missing"], 2),
    ("config-unknown-key",
     lambda t: GEN + ["--config", str(_write(t, "k.toml", SMALL + "lane = 4\n")), "--out", str(t)],
     ["'lane' = 4", "unknown key", "allowed keys"], 2),
    ("config-bad-lanes",
     lambda t: GEN + ["--config", str(_write(t, "l.toml", SMALL.replace("lanes = 2", "lanes = 3"))),
                      "--out", str(t)],
     ["'lanes' = 3", "must divide hidden_size=8", "[1, 2, 4, 8]"], 2),
    ("weights-truncated",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)), "--weights", str(_truncated(t)),
                      "--out", str(t / "o")],
     ["truncated.npz", "not a complete .npz"], 2),
    ("weights-bit-flipped",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)), "--weights", str(_bitflip(t)),
                      "--out", str(t / "o")],
     ["flipped.npz", "cannot be read", "CRC"], 2),
    ("weights-empty",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)),
                      "--weights", str(_write_bytes(t / "e.npz", b"")), "--out", str(t / "o")],
     ["e.npz", "is empty"], 2),
    ("weights-not-npz",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)),
                      "--weights", str(_write(t, "w.npz", "hello")), "--out", str(t / "o")],
     ["w.npz", "is not an .npz archive"], 2),
    ("weights-missing",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)), "--weights", str(t / "no.npz"),
                      "--out", str(t / "o")],
     ["no.npz", "does not exist"], 2),
    ("bundle-other-config",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)),
                      "--weights", str(ROOT / "models" / "ptb"), "--out", str(t / "o")],
     ["models/ptb", "another configuration", "input_size: bundle 50, configuration 3",
      "WEIGHTS="], 2),
    ("bundle-corrupt",
     lambda t: GEN + ["--config", str(ROOT / "configs" / "mnist.toml"),
                      "--weights", str(_bundle_corrupt(t)), "--out", str(t / "o")],
     ["params.npz", "does not match its model.json", "corrupt"], 2),
    ("out-is-a-file",
     lambda t: GEN + ["--config", str(_write(t, "s.toml", SMALL)),
                      "--out", str(_write(t, "afile", "x"))],
     ["afile", "is an existing file", "must name a directory"], 2),
    ("lint-missing-file",
     lambda t: [sys.executable, "-m", "flow.lint", str(t / "none.v")],
     ["none.v", "is not a file", "make rtl"], 2),
    ("cli-port-after-subcommand",
     lambda t: CLI + ["info", "--port", str(t / "ttyNONE")],
     ["cannot open serial port", "ttyNONE"], 1),
    ("cli-ptb-test-zero",
     lambda t: CLI + ["run", "--ptb-test", "0", "--port", "x"],
     ["--ptb-test", "'0' is not a whole number >= 1"], 2),
    ("cli-no-port",
     lambda t: CLI + ["regs"],
     ["--port", "required", "/dev/ttyUSB0"], 2),
]


@pytest.mark.parametrize("argv,words,status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_is_one_clear_paragraph(tmp_path, argv, words, status):
    env = {k: v for k, v in os.environ.items() if k != "SKIPLSTM_PORT"}
    proc = subprocess.run(argv(tmp_path), cwd=ROOT, capture_output=True, text=True, env=env)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in err, f"{w!r} not in: {err}"


def test_failed_generation_writes_nothing(tmp_path):
    out = tmp_path / "o"
    (out / "tiny.json").mkdir(parents=True)          # the manifest cannot be written
    proc = subprocess.run(GEN + ["--config", str(_write(tmp_path, "s.toml", SMALL)),
                                 "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "a directory of that name exists" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tiny.json"]     # no Verilog, no temps


def test_make_rtl_other_config_builds_without_weights(tmp_path):
    cfg = _write(tmp_path, "mine.toml", SMALL)
    proc = subprocess.run(["make", "-s", "rtl", f"CONFIG={cfg}", f"OUT={tmp_path / 'o'}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "no weights baked" in proc.stdout
    assert (tmp_path / "o" / "tiny.v").exists() and (tmp_path / "o" / "tiny.json").exists()


def test_lint_help_is_help():
    proc = subprocess.run([sys.executable, "-m", "flow.lint", "--help"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "usage: python -m flow.lint" in proc.stdout
    assert "clean" not in proc.stdout


@pytest.mark.parametrize("sub", ["info", "regs", "load", "run"])
def test_cli_subcommands_describe_themselves(sub):
    proc = subprocess.run(CLI + [sub, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    description = proc.stdout.split("\n\n")[1]
    assert len(description.split()) >= 6, proc.stdout


BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("amaranth", "torch", "train", "rtl", "flow", "numpy_ignored"):
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
import skiplstm, skiplstm.driver, skiplstm.protocol, skiplstm.__main__
from golden.interface import crc8
print("ok", skiplstm.Device.__name__)
"""


def test_host_package_imports_without_amaranth_torch_or_training_code():
    proc = subprocess.run([sys.executable, "-c", BLOCKER], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok Device")
