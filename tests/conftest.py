import os

# One thread per test process and per run it starts (train.py, the grader): the suite must not fight a
# training run beside it for cores. CI may set OMP_NUM_THREADS itself.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from data.synth import build  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A real tiny synthesised set (FLAC + MIDI + data.json), built once per test session."""
    out = str(tmp_path_factory.mktemp("tiny"))
    build("tiny", out, seed=0)
    return out
