import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def rng(request):
    """A seeded generator; the seed is logged and overridable with SKIPLSTM_SEED."""
    seed = int(os.environ.get("SKIPLSTM_SEED", "1234"))
    print(f"seed={seed} (set SKIPLSTM_SEED to override)")
    return np.random.default_rng([seed, zlib.crc32(request.node.name.encode())])
