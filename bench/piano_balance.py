"""How far apart the kit's pianos sound: the balance of partials of single notes, piano against piano.

    python bench/piano_balance.py

Each piano (data/render.py) plays eight single notes, A1 to E5, at velocity 80, dry; for each note, the
levels of partials 2 to 6 against the fundamental (dB, 0.05-0.4 s after the attack). Printed: each piano's
balance of partials 2 to 4 per note, and the mean absolute difference of the balances for every pair of
pianos. A piano added to training should be about as far from the held-out one (timgm) as the training
pianos are from one another: a pair within 2 or 3 dB is probably the same recordings (as csound's bank and
TimGM6mb are), which would leak the held-out piano into training.
"""
import argparse
import os
import sys

import numpy as np
from mir_eval.util import midi_to_hz

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data.performance import Performance  # noqa: E402
from data.render import PIANOS, Renderer  # noqa: E402
from hw.constants import SAMPLE_RATE  # noqa: E402

PITCHES = (33, 40, 45, 52, 57, 64, 69, 76)
PARTIALS = range(1, 7)
WINDOW = (0.05, 0.4)          # seconds after the attack
FFT_SIZE = 1 << 16


def balance(audio, pitch):
    """Levels (dB) of partials 2..6 against the fundamental; NaN above 7.9 kHz."""
    part = audio[int(WINDOW[0] * SAMPLE_RATE):int(WINDOW[1] * SAMPLE_RATE)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part)), FFT_SIZE))
    frequencies = np.fft.rfftfreq(FFT_SIZE, 1 / SAMPLE_RATE)
    f0 = float(midi_to_hz(pitch))
    levels = []
    for k in PARTIALS:
        near = np.abs(frequencies - k * f0) < 0.03 * k * f0
        levels.append(20 * np.log10(spectrum[near].max() + 1e-9) if k * f0 < 7900 else np.nan)
    return np.array(levels[1:]) - levels[0]


def main():
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    renderer = Renderer()
    balances = {}
    for name, piano in PIANOS.items():
        notes = [renderer.dry(Performance(np.array([[0.0, 1.0, pitch, 80]]), np.zeros((0, 2)), 1.2), piano)
                 for pitch in PITCHES]
        balances[name] = np.array([balance(audio, pitch) for audio, pitch in zip(notes, PITCHES)])
    print(f"partials 2, 3, 4 against the fundamental (dB) at MIDI pitches {PITCHES}:")
    for name, table in balances.items():
        print(f"  {name:>16}: " + "  ".join("/".join(f"{v:+.0f}" for v in row[:3]) for row in table))
    names = list(balances)
    print("\nmean absolute difference of the balance of partials 2-6 (dB):")
    print(" " * 18 + "".join(f"{name[:11]:>12}" for name in names))
    for a in names:
        print(f"{a:>18}" + "".join(f"{np.nanmean(np.abs(balances[a] - balances[b])):12.1f}" for b in names))


if __name__ == "__main__":
    main()
