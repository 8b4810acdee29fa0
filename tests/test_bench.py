"""The benchmarks under bench/ are run by hand, not by the suite; this keeps each one startable, so a renamed
module or function in the kit breaks a test here instead of the next person's measurement."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, "bench", "*.py"))
                 if "__main__" in open(path).read())                  # not the helpers they share (browser.py)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_imports_what_it_needs_and_explains_itself(script):
    run = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage: " in run.stdout, run.stdout[:500]      # pyfluidsynth may print where it found its library first
