"""The benchmarks under bench/ are run by hand, not by the suite; this keeps each one startable, so a renamed
module or function in the kit breaks a test here instead of the next person's measurement."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
from mir_eval.util import midi_to_hz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, "bench", "*.py"))
                 if "__main__" in open(path).read())                  # not the helpers they share (browser.py)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_imports_what_it_needs_and_explains_itself(script):
    run = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage: " in run.stdout, run.stdout[:500]      # pyfluidsynth may print where it found its library first


def test_peers_counts_the_extra_notes_that_sit_on_a_played_notes_partials():
    """bench/peers.py's diagnosis of extra notes: an octave, a twelfth or two octaves above a note starting
    within 50 ms counts as a partial taken for a key; a wrong neighbour, or an octave later, does not."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("peers", os.path.join(ROOT, "bench", "peers.py"))
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)

    def notes(*rows):                                   # (onset, offset, MIDI key)
        rows = np.array(rows, dtype=float).reshape(-1, 3)
        return rows[:, :2], midi_to_hz(rows[:, 2])

    played = notes((1.0, 1.5, 60), (2.0, 2.5, 64))
    heard = notes((1.0, 1.5, 60), (1.01, 1.5, 72), (1.02, 1.5, 79), (0.99, 1.5, 84), (1.0, 1.5, 61),
                  (1.5, 2.0, 72), (2.0, 2.5, 76))
    assert peers.harmonic_extras(played, heard) == {"extra": 6, "octave": 2, "twelfth": 1, "two octaves": 1}
    assert peers.harmonic_extras(played, notes()) == {"extra": 0, "octave": 0, "twelfth": 0, "two octaves": 0}
    assert peers.harmonic_extras(notes(), heard)["extra"] == 7
