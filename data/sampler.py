"""The kit's own sample player: a performance played on a sampled piano (sample_sets.py).

What a real piano does, and how each note is played here:
- velocity: a set with several recorded layers (the Salamander grand has 16) plays the layer of the note's
  velocity, near the border of two layers an equal-power crossfade of both, at a level interpolated
  between the layers' recorded levels, so the level follows velocity inside a layer and timbre changes
  without jumps at the borders. A set with one layer follows velocity with the General MIDI level curve
  (40 log10(velocity / 127) dB) and a low-pass filter that opens with velocity, as hammers hit harder
  sound brighter;
- pitch: every key is read from the nearest recorded one, faster or slower by their ratio (linear
  interpolation) so it lands on its own pitch;
- dampers: a note sounds until its key is up and the sustain pedal is up; then its damper stops it
  within a fraction of a second (slower in the bass), and the release sample of its key (the damper's
  noise) sounds where the set has one. The top strings have no dampers (from F6): they ring until they
  die away;
- a key struck again while it still sounds cuts the earlier sound short (one string set per key);
- timbre: a drawn timbre (timbre.py) raises or lowers each note's partials, so that one set of samples
  sounds like many pianos.

Everything is deterministic: the same performance gives the same samples. Decoded samples (16 kHz mono,
float16, silence trimmed) are kept beside the OGG files in the cache, so later builds skip decoding.
"""
import os

import numpy as np
import soundfile
from mir_eval.util import midi_to_hz
from scipy.signal import lfilter, resample_poly

from hw.constants import SAMPLE_RATE

from .sample_sets import SALAMANDER

UNDAMPED_FROM = 89            # F6: from here up a grand's strings have no dampers
PEDAL_THRESHOLD = 64          # CC64 at or above this holds the dampers off
RESTRIKE_FADE = 0.02          # seconds over which a re-struck key's earlier sound is cut
RELEASE_LEVEL = 0.04          # the damper noise against the note's own level
CROSSFADE = 0.5               # width of the crossfade between two velocity layers, in layers
ATTACK = (0.002, 0.3)         # seconds of a note's start over which its level is measured
TRIM_DB = -70                 # a sample's tail below this (against its peak) is cut off
BRIGHTNESS = (2.0, 16.0)      # one-layer sets: the low-pass cutoff, in harmonics, at velocity 0 and 127
DAMPER, RESTRUCK, RINGS = "damper", "restruck", "rings"      # what stops a note's sound


def damper_time(pitch):
    """Seconds for a damper to silence a string by 1/e: bass strings are heavier and stop more slowly."""
    return float(np.interp(pitch, [21, 60, 88], [0.25, 0.08, 0.04]))


def layer_position(velocity, layers):
    """Where a MIDI velocity falls on the layers: 0 to layers, layer L spanning L - 1 to L."""
    return float(np.clip(velocity / 127 * layers, 1e-6, layers))


def layer_weights(velocity, layers):
    """[(layer, weight)]: one layer, or near the border of two an equal-power crossfade of both. The zone
    is narrow because two recordings of a key never share their partials' phases, and their mix is
    coloured by the cancellation between them."""
    position = layer_position(velocity, layers)
    border = int(round(position))
    offset = position - border
    if 1 <= border < layers and abs(offset) < CROSSFADE / 2:
        mix = (offset + CROSSFADE / 2) / CROSSFADE
        return [(border, float(np.cos(mix * np.pi / 2))), (border + 1, float(np.sin(mix * np.pi / 2)))]
    return [(min(int(np.ceil(position)), layers), 1.0)]


def attack_level(audio):
    part = audio[int(ATTACK[0] * SAMPLE_RATE):int(ATTACK[1] * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(np.square(part, dtype=np.float64)))) + 1e-9


def brighten(audio, pitch, velocity):
    """A one-pole low-pass whose cutoff rises with velocity (BRIGHTNESS, in harmonics of the note), for
    sets recorded at one level: a soft hammer blow excites fewer partials."""
    harmonics = BRIGHTNESS[0] * (BRIGHTNESS[1] / BRIGHTNESS[0]) ** (velocity / 127)
    cutoff = min(harmonics * float(midi_to_hz(pitch)), SAMPLE_RATE / 2)
    pole = np.exp(-2 * np.pi * cutoff / SAMPLE_RATE)
    return lfilter([1 - pole], [1, -pole], audio).astype(np.float32)


def decode(path):
    """A sample's file (OGG, or WAV) as 16 kHz mono float32, leading silence and the tail below TRIM_DB cut off."""
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        divisor = np.gcd(rate, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
    level = np.abs(audio)
    peak = level.max()
    if peak == 0:
        return audio[:1]
    start = max(int(np.argmax(level > 0.01 * peak)) - SAMPLE_RATE // 500, 0)     # keep 2 ms before the attack
    loud = np.nonzero(level > peak * 10 ** (TRIM_DB / 20))[0]
    return audio[start:loud[-1] + 1]


class SamplePlayer:
    """Plays performances (data/performance.py) on a sampled piano; samples load on first use."""

    def __init__(self, samples=SALAMANDER, cache=None):
        self.samples = samples
        self.cache = samples.require(cache)
        self.decoded = os.path.join(self.cache, f"decoded-{SAMPLE_RATE}")
        self.pitches = sorted(samples.sampled_pitches())
        self.loaded = {}
        self.levels = {}              # sampled pitch -> attack level of each layer

    def nearest_sampled(self, pitch):
        return min(self.pitches, key=lambda sampled: (abs(sampled - pitch), sampled))

    def sample(self, path):
        if path not in self.loaded:
            stored = os.path.join(self.decoded, os.path.splitext(os.path.basename(path))[0] + ".npy")
            if not os.path.exists(stored):
                # Build processes share the cache: each writes its own file, and the rename is atomic.
                os.makedirs(self.decoded, exist_ok=True)
                part = f"{stored}.{os.getpid()}.part.npy"
                np.save(part, decode(path).astype(np.float16))
                os.replace(part, stored)
            self.loaded[path] = np.load(stored).astype(np.float32)
        return self.loaded[path]

    def render(self, performance, timbre=None):
        """Mono float32 audio at SAMPLE_RATE, performance.duration long; `timbre` (timbre.Timbre) varies the
        partials of every note."""
        total = int(round(performance.duration * SAMPLE_RATE))
        out = np.zeros(total + 1, dtype=np.float32)
        notes = np.asarray(performance.notes, dtype=np.float64).reshape(-1, 4)
        ends = sounding_ends(notes, np.asarray(performance.pedal, dtype=np.float64).reshape(-1, 2))
        for (onset, _, pitch, velocity), (end, stopped_by) in zip(notes, ends):
            start = int(round(onset * SAMPLE_RATE))
            if start >= total:
                continue
            fade = {DAMPER: damper_time(int(pitch)), RESTRUCK: RESTRIKE_FADE, RINGS: None}[stopped_by]
            voice = self.voice(int(pitch), float(velocity), end - onset, fade, timbre)[:total - start]
            out[start:start + len(voice)] += voice
            if stopped_by == DAMPER and self.samples.releases:
                self.add_release(out, int(pitch), float(velocity), end, total)
        return out[:total]

    def voice(self, pitch, velocity, seconds, fade, timbre=None):
        """One note's sound from its onset: the two layers, shifted to pitch, stopped after `seconds` with
        an exponential fade of time constant `fade` (None: it rings until the sample ends)."""
        sampled = self.nearest_sampled(pitch)
        ratio = 2.0 ** ((pitch - sampled) / 12)
        length = None
        mixed = None
        for layer, weight in layer_weights(velocity, self.samples.layers):
            if weight < 1e-3:
                continue
            source = self.sample(self.samples.sample_path(sampled, layer, self.cache))
            available = int((len(source) - 1) / ratio)
            if length is None:
                want = available if fade is None else int((seconds + 5 * fade) * SAMPLE_RATE)
                length = max(min(want, available), 1)
            shifted = np.interp(np.arange(length) * ratio, np.arange(len(source)), source).astype(np.float32)
            mixed = weight * shifted if mixed is None else mixed + weight * shifted[:len(mixed)]
        if self.samples.layers == 1:
            mixed = brighten(mixed, pitch, velocity)
        if timbre is not None:
            mixed = timbre.apply(mixed, pitch)
        mixed *= self.level(sampled, velocity) / attack_level(mixed)
        if fade is not None:
            held = int(seconds * SAMPLE_RATE)
            tail = np.arange(max(len(mixed) - held, 0)) / SAMPLE_RATE
            mixed[held:] *= np.exp(-tail / fade).astype(np.float32)
        return mixed

    def level(self, sampled, velocity):
        """The attack level a key at this velocity has: the recorded layers' levels (made non-decreasing),
        interpolated between the layers' centres, so the level follows velocity inside a layer too; with one
        layer, its level on the General MIDI curve, (velocity / 127) squared."""
        layers = self.samples.layers
        if sampled not in self.levels:
            recorded = [attack_level(self.sample(self.samples.sample_path(sampled, layer, self.cache)))
                        for layer in range(1, layers + 1)]
            self.levels[sampled] = np.maximum.accumulate(recorded)
        if layers == 1:
            return float(self.levels[sampled][0] * (max(velocity, 1) / 127) ** 2)
        centres = np.arange(layers) + 0.5
        return float(np.interp(layer_position(velocity, layers), centres, self.levels[sampled]))

    def add_release(self, out, pitch, velocity, at, total):
        start = int(round(at * SAMPLE_RATE))
        if start >= total:
            return
        noise = self.sample(self.samples.release_path(pitch, self.cache))
        sampled = self.nearest_sampled(pitch)
        level = RELEASE_LEVEL * self.level(sampled, velocity) / self.level(sampled, 127)
        noise = noise[:total - start] * level
        out[start:start + len(noise)] += noise


def sounding_ends(notes, pedal):
    """For each note (onset, offset, pitch, velocity): (when its sound is stopped, by what: DAMPER, RESTRUCK
    or RINGS). A damper falls once the key is up and the pedal is up; a key struck again cuts its earlier
    sound at the new onset; the undamped top strings, and notes held by the pedal to the end, ring out."""
    times = pedal[:, 0] if len(pedal) else np.zeros(0)
    down = pedal[:, 1] >= PEDAL_THRESHOLD if len(pedal) else np.zeros(0, dtype=bool)
    following = np.full(len(notes), np.inf)        # the next onset of the same key
    next_onset = {}
    for index in np.argsort(notes[:, 0], kind="stable")[::-1]:
        following[index] = next_onset.get(notes[index, 2], np.inf)
        next_onset[notes[index, 2]] = notes[index, 0]
    ends = []
    for (onset, offset, pitch, _), restruck in zip(notes, following):
        damper = np.inf if pitch >= UNDAMPED_FROM else pedal_up_after(offset, times, down)
        if np.isfinite(restruck) and restruck <= damper:     # struck again before (or as) its damper falls
            ends.append((float(restruck), RESTRUCK))
        elif np.isfinite(damper):
            ends.append((float(damper), DAMPER))
        else:
            ends.append((np.inf, RINGS))
    return ends


def pedal_up_after(time, times, down):
    """The first moment at or after `time` when the sustain pedal is up."""
    index = np.searchsorted(times, time, side="right") - 1
    if index < 0 or not down[index]:
        return time
    later = np.nonzero(~down[index + 1:])[0]
    return float(times[index + 1 + later[0]]) if len(later) else np.inf
