"""Pianos made from a model of their strings (modal synthesis), for timbres no registry holds.

The registries the kit reaches hold six pianos, and a transcriber trained on more distinct pianos does
better on one it never heard. A modal piano is made, not recorded: each key's sound is a sum of decaying
sines, its strings' partials, shaped by what makes a piano sound like one:
- stiff strings: the k-th partial lies above k times the fundamental, at k f0 sqrt(1 + B k^2), with B
  (the inharmonicity) about 1e-4 to 1e-3 in the middle of the keyboard and ten times more in the top octave;
- the hammer: striking at 1/9 to 1/7 of the string's length, it leaves out the partials with a node there,
  and a harder blow, being shorter, excites more high partials (a low-pass that opens with velocity);
- the soundboard: it radiates little below about 100 Hz, so the lowest keys' fundamentals are weak, and it
  colours the rest with broad resonances;
- decay: low strings sound longer, high partials die sooner, and every partial decays in two stages, a
  prompt sound and a slower aftersound;
- unisons: from the low tenor up a key has two and then three strings, tuned a cent or so apart, so that
  their partials beat;
- the thump of the hammer and action: a short burst of noise at the attack.
Each piano draws these from its own seed (`Voicing.draw`); MODAL_PIANOS are the ones the kit plays. Their
notes are synthesised once, every minor third at four velocities, into a cache folder as FLAC files with a
sha256 stamp, and the sample player (sampler.py) plays them as it plays a recorded set: velocity layers,
dampers, pedal, re-strikes. No recordings, so no licence to credit.
"""
import functools
import math
import os
from dataclasses import dataclass

import numpy as np
import soundfile
from mir_eval.util import midi_to_hz
from scipy.signal import lfilter

from hw.constants import SAMPLE_RATE

from .npm_samples import cache_folder, files_intact, read_stamp, sha256, write_stamp

MODEL_VERSION = "1"           # a change to the synthesis below makes every cached note again
HIGHEST_PARTIAL = 7600.0      # Hz: partials above are left out (16 kHz audio holds up to 8 kHz)
LONGEST = 12.0                # seconds: a note still sounding is faded out over its last FADE
FADE = 1.0
QUIETEST_DB = -70             # a partial is computed until it is this far below the note's loudest partial
LEVEL = 0.08                  # RMS of a key's partials at velocity 127, before its unevenness
ATTACK = 0.001                # seconds over which the first sound rises (a hammer is not a step)


def loguniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


@dataclass(frozen=True)
class Voicing:
    """The drawn physical make of one modal piano; each range is where real grands and uprights lie."""
    inharmonicity: float           # B at C4
    inharmonicity_slope: float     # decades of B per octave above C3
    bass_inharmonicity_slope: float    # decades of B per octave down from C3 (wound strings)
    hammer_position: float         # where the hammer strikes, as a share of the string's length
    soft_cutoff: float             # Hz: the hammer's low-pass on C4 at velocity 0 ...
    loud_cutoff: float             # ... and at velocity 127
    hammer_rolloff: float          # its slope above the cutoff, in powers of frequency
    radiation_cutoff: float        # Hz: the soundboard radiates less below this
    body: tuple                    # the soundboard's resonances: (centre Hz, width in octaves, gain dB)
    t60_middle: float              # seconds for C4's fundamental's aftersound to decay 60 dB
    t60_halvings: float            # that time halves this many times per octave up
    loss_frequency: float          # Hz: partials this high decay twice as fast as the fundamental
    prompt_share: float            # the prompt sound's decay time against the aftersound's
    aftersound: float              # the aftersound's amplitude against the prompt sound's
    detune_cents: float            # spread of the unison strings' tuning
    two_strings_from: int          # MIDI pitch of the first key with two strings
    three_strings_from: int        # and with three
    thump_db: float                # the hammer's noise against the note's peak
    thump_time: float              # seconds over which it dies
    velocity_exponent: float       # amplitude grows as (velocity / 127) ** this
    unevenness_db: tuple           # level of one key per octave (A0 to A7), the keys between interpolated

    @classmethod
    def draw(cls, seed):
        rng = np.random.default_rng([seed, 2718])
        return cls(
            inharmonicity=loguniform(rng, 1.5e-4, 9e-4),
            inharmonicity_slope=float(rng.uniform(0.25, 0.42)),
            bass_inharmonicity_slope=float(rng.uniform(-0.1, 0.3)),
            hammer_position=float(rng.uniform(1 / 9, 1 / 7)),
            soft_cutoff=loguniform(rng, 250, 700),
            loud_cutoff=loguniform(rng, 2500, 7000),
            hammer_rolloff=float(rng.uniform(2.0, 3.5)),
            radiation_cutoff=loguniform(rng, 60, 170),
            body=tuple((round(loguniform(rng, 120, 5000), 1), round(float(rng.uniform(0.2, 0.8)), 2),
                        round(float(rng.uniform(-6, 6)), 2)) for _ in range(4)),
            t60_middle=float(rng.uniform(10, 25)),
            t60_halvings=float(rng.uniform(0.45, 0.75)),
            loss_frequency=loguniform(rng, 900, 3000),
            prompt_share=float(rng.uniform(0.15, 0.4)),
            aftersound=float(rng.uniform(0.1, 0.35)),
            detune_cents=float(rng.uniform(0.3, 2.0)),
            two_strings_from=int(rng.integers(27, 36)),
            three_strings_from=int(rng.integers(40, 53)),
            thump_db=float(rng.uniform(-32, -18)),
            thump_time=float(rng.uniform(0.004, 0.015)),
            velocity_exponent=float(rng.uniform(1.6, 2.4)),
            unevenness_db=tuple(round(float(g), 2) for g in rng.uniform(-2, 2, size=8)),
        )

    def inharmonicity_at(self, pitch):
        """B of a key: log-linear in pitch, from C3 up and (wound strings) from C3 down."""
        slope = self.inharmonicity_slope if pitch >= 48 else -self.bass_inharmonicity_slope
        at_c3 = self.inharmonicity * 10 ** (self.inharmonicity_slope * (48 - 60) / 12)
        return at_c3 * 10 ** (slope * (pitch - 48) / 12)

    def partials(self, pitch):
        """(k, frequencies in Hz) of the partials of a key's strings below HIGHEST_PARTIAL."""
        f0 = float(midi_to_hz(pitch))
        k = np.arange(1, int(HIGHEST_PARTIAL / f0) + 1)
        stiffness = self.inharmonicity_at(pitch)
        frequencies = k * f0 * np.sqrt((1 + stiffness * k ** 2) / (1 + stiffness))    # tuned: partial 1 at f0
        return k[frequencies < HIGHEST_PARTIAL], frequencies[frequencies < HIGHEST_PARTIAL]

    def amplitudes(self, pitch, velocity):
        """Each partial's starting amplitude; together their RMS is the key's level at this velocity."""
        k, frequencies = self.partials(pitch)
        strength = velocity / 127
        cutoff = self.hammer_cutoff(pitch, velocity)
        amplitude = np.maximum(np.abs(np.sin(np.pi * k * self.hammer_position)), 0.05) / k
        amplitude /= 1 + (frequencies / cutoff) ** self.hammer_rolloff
        ratio = (frequencies / self.radiation_cutoff) ** 2
        amplitude *= ratio / (1 + ratio)
        octaves = np.log2(frequencies)
        body_db = sum(gain * np.exp(-0.5 * ((octaves - np.log2(centre)) / width) ** 2)
                      for centre, width, gain in self.body)
        amplitude *= 10 ** (body_db / 20)
        uneven_db = np.interp(pitch, range(21, 109, 12), self.unevenness_db)
        level = LEVEL * strength ** self.velocity_exponent * 10 ** (uneven_db / 20)
        return amplitude * level / np.sqrt(np.sum(amplitude ** 2) / 2)

    def hammer_cutoff(self, pitch, velocity):
        """Hz: the treble's hammers are lighter and harder, so their blows are shorter and brighter."""
        at_c4 = self.soft_cutoff * (self.loud_cutoff / self.soft_cutoff) ** (velocity / 127)
        return at_c4 * np.sqrt(float(midi_to_hz(pitch)) / float(midi_to_hz(60)))

    def decay_times(self, pitch):
        """Each partial's aftersound time constant (seconds, to fall by 1/e)."""
        _, frequencies = self.partials(pitch)
        t60 = np.clip(self.t60_middle * 2.0 ** (-self.t60_halvings * (pitch - 60) / 12), 0.3, 30.0)
        return t60 / math.log(1000) / (1 + (frequencies / self.loss_frequency) ** 2)

    def strings(self, pitch):
        """How many unison strings a key has."""
        return 1 if pitch < self.two_strings_from else 2 if pitch < self.three_strings_from else 3

    def note(self, pitch, velocity, seed=0):
        """One key struck at `velocity` and held: mono float32 at SAMPLE_RATE, until it dies away (at most
        LONGEST seconds). `seed` draws the unison strings' tuning and the thump's noise."""
        tuning = np.random.default_rng([seed, pitch])      # not velocity: a key's strings are the same at every blow
        _, frequencies = self.partials(pitch)
        amplitudes = self.amplitudes(pitch, velocity)
        taus = self.decay_times(pitch)
        loudest = amplitudes.max()
        # A partial lasts until its aftersound falls QUIETEST_DB below the loudest partial's start.
        lasts = taus * np.log(np.maximum(amplitudes * self.aftersound / loudest, 1e-12) / 10 ** (QUIETEST_DB / 20))
        length = int(min(max(lasts.max(), 0.1), LONGEST) * SAMPLE_RATE)
        offsets = tuning.normal(0, self.detune_cents, self.strings(pitch))
        detunes = 2.0 ** ((offsets - offsets.mean()) / 1200)       # the tuner sets the key's pitch between them
        phases = tuning.uniform(-0.2, 0.2, size=(len(frequencies), len(detunes)))
        out = np.zeros(length)
        for frequency, amplitude, tau, lasting, phase in zip(frequencies, amplitudes, taus, lasts, phases):
            n = min(int(lasting * SAMPLE_RATE), length)
            if n <= 0:
                continue
            t = np.arange(n) / SAMPLE_RATE
            envelope = amplitude * (np.exp(-t / (tau * self.prompt_share)) + self.aftersound * np.exp(-t / tau))
            envelope /= 1 + self.aftersound
            unison = sum(np.sin(2 * np.pi * frequency * detune * t + p) for detune, p in zip(detunes, phase))
            out[:n] += envelope * unison / len(detunes)
        noise = np.random.default_rng([seed, pitch, int(velocity)])
        out += self.thump(length, velocity, np.abs(out[:int(0.05 * SAMPLE_RATE)]).max(), noise)
        rise = int(ATTACK * SAMPLE_RATE)
        out[:rise] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
        if length >= LONGEST * SAMPLE_RATE:
            fade = int(FADE * SAMPLE_RATE)
            out[-fade:] *= np.linspace(1, 0, fade)
        return out.astype(np.float32)

    def thump(self, length, velocity, peak, rng):
        """The hammer's noise: low-passed white noise dying within thump_time, brighter when struck harder."""
        n = min(int(8 * self.thump_time * SAMPLE_RATE), length)
        noise = rng.standard_normal(n) * np.exp(-np.arange(n) / (self.thump_time * SAMPLE_RATE))
        cutoff = min(self.hammer_cutoff(60, velocity), 0.45 * SAMPLE_RATE)
        pole = math.exp(-2 * math.pi * cutoff / SAMPLE_RATE)
        smoothed = lfilter([1 - pole], [1, -pole], noise)
        smoothed *= peak * 10 ** (self.thump_db / 20) / (np.abs(smoothed).max() + 1e-12)
        return np.pad(smoothed, (0, length - n))


@dataclass(frozen=True)
class ModalPiano:
    """A modal piano, played by the sample player like a recorded set (sample_sets.py)."""
    name: str                      # the kit's name of the piano (data/render.py)
    seed: int                      # draws its voicing, and its strings' tuning
    keys: tuple = tuple(range(21, 109, 3))     # the keys synthesised: every minor third, A0 to C8
    layers: int = 4
    releases: bool = False

    @property
    def version(self):
        return f"model{MODEL_VERSION}"

    @property
    def licence(self):
        return f"{self.name}: synthesised by the kit (data/modal_piano.py, seed {self.seed}), no recordings"

    @property
    def cache(self):
        return cache_folder(self.name, self.version)

    @property
    def voicing(self):
        return _voicing(self.seed)

    def layer_velocity(self, layer):
        """The velocity a layer is synthesised at: the middle of the velocities the sample player gives it."""
        return round((layer - 0.5) / self.layers * 127)

    def sampled_pitches(self):
        return {pitch: f"key-{pitch:03d}" for pitch in self.keys}

    def sample_path(self, pitch, layer, cache=None):
        return os.path.join(cache or self.cache, "audio", f"{self.sampled_pitches()[pitch]}-layer{layer}.flac")

    def stamp_path(self, cache):
        return os.path.join(cache, "stamps", "notes.json")

    def intact(self, cache):
        stamp = read_stamp(self.stamp_path(cache))
        return (bool(stamp) and stamp.get("version") == self.version and stamp.get("seed") == self.seed
                and stamp.get("keys") == list(self.keys) and files_intact(os.path.join(cache, "audio"), stamp["files"]))

    def fetch(self, cache=None, log=print):
        """Synthesise the notes into the cache unless they are there and intact; returns the cache folder."""
        cache = cache or self.cache
        if self.intact(cache):
            return cache
        log(f"synthesising the {self.name} piano's notes into {cache}")
        audio_folder = os.path.join(cache, "audio")
        os.makedirs(audio_folder, exist_ok=True)
        files = {}
        for pitch in self.keys:
            for layer in range(1, self.layers + 1):
                path = self.sample_path(pitch, layer, cache)
                # Build processes may synthesise side by side: each writes its own file; the rename is atomic.
                part = f"{path}.{os.getpid()}.part"
                note = self.voicing.note(pitch, self.layer_velocity(layer), seed=self.seed)
                soundfile.write(part, note, SAMPLE_RATE, subtype="PCM_24", format="FLAC")
                os.replace(part, path)
                files[os.path.basename(path)] = sha256(path)
        write_stamp(self.stamp_path(cache), {"version": self.version, "seed": self.seed, "keys": list(self.keys),
                                             "files": files})
        return cache

    def require(self, cache=None):
        """The cache folder, its notes synthesised first if they are missing."""
        return self.fetch(cache, log=lambda *_: None)


@functools.lru_cache(maxsize=None)
def _voicing(seed):
    return Voicing.draw(seed)


MODAL_PIANOS = tuple(ModalPiano(f"modal-{seed}", seed) for seed in (1, 2, 3))
