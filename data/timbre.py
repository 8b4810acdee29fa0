"""Timbre variation for the sampled pianos: each note's partials raised or lowered relative to its own pitch.

Pianos differ most in how loud a note's partials are against its fundamental, and that balance changes from
key to key (measured at velocity 80, the second partial against the fundamental: from -7 to +18 dB at C2 and
from -8 to +6 dB at C4 across the kit's pianos). A model that has heard a few pianos' balances takes a louder
partial on a new piano for a second key: most of the pretrained transcriber's extra notes on the held-out
piano are an octave or a twelfth above a played note. An equaliser at fixed frequencies (the recording chain)
cannot vary this, since the partials move with the pitch; this filter moves with it.

A drawn timbre holds a gain for each of partials 2 to 6 at one key per octave; a note takes the gains
interpolated at its pitch, so the balance drifts smoothly along the keyboard, as between a real piano's
string groups. Between partials the gain is interpolated too, and it is 0 dB at the fundamental and from
the seventh partial up: the note's pitch and its level (set afterwards by the sample player) stay as they were.
"""
from dataclasses import dataclass

import numpy as np
from mir_eval.util import midi_to_hz
from scipy.fft import next_fast_len

from hw.constants import SAMPLE_RATE

PARTIALS = (2, 3, 4, 5, 6)
ANCHORS = tuple(range(21, 109, 12))      # one key per octave, A0 to A7: where the gains are drawn
GAIN_DB = 12.0                           # each gain is drawn uniformly from -GAIN_DB to +GAIN_DB
PERIODS_PADDED = 8                       # the filter's smearing before an attack, in periods, is cut off


@dataclass(frozen=True)
class Timbre:
    gains_db: tuple          # per anchor key (ANCHORS), the gain of each partial (PARTIALS), in dB

    @classmethod
    def draw(cls, rng):
        gains = rng.uniform(-GAIN_DB, GAIN_DB, size=(len(ANCHORS), len(PARTIALS)))
        return cls(tuple(tuple(round(float(g), 2) for g in row) for row in gains))

    def partial_gains(self, pitch):
        """The gains (dB) of PARTIALS for a note of this pitch."""
        table = np.asarray(self.gains_db)
        return np.array([np.interp(pitch, ANCHORS, table[:, i]) for i in range(len(PARTIALS))])

    def apply(self, audio, pitch):
        """One note's audio with its partials scaled: a zero-phase filter applied in the frequency domain,
        padded so that nothing wraps around from the end to the attack."""
        f0 = float(midi_to_hz(pitch))
        padding = int(PERIODS_PADDED * SAMPLE_RATE / f0)
        size = next_fast_len(len(audio) + padding, real=True)
        harmonic = np.fft.rfftfreq(size, 1 / SAMPLE_RATE) / f0
        decibels = np.interp(harmonic, [1, *PARTIALS, PARTIALS[-1] + 1], [0, *self.partial_gains(pitch), 0])
        spectrum = np.fft.rfft(audio, size) * 10 ** (decibels / 20)
        return np.fft.irfft(spectrum, size)[:len(audio)].astype(np.float32)
