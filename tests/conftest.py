import pytest

from data.synth import build


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A real tiny synthesised set (FLAC + MIDI + data.json), built once per test session."""
    out = str(tmp_path_factory.mktemp("tiny"))
    build("tiny", out, seed=0)
    return out
