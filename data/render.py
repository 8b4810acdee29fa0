"""Render a performance to audio with FluidSynth and real piano soundfonts, in varied rooms.

The soundfonts come from Debian packages (installed by `make setup`) and from pretty_midi:
- steinway: MuseScore General Lite, "Grand Piano" (sampled Steinway D, two velocity layers), MIT;
- yamaha: FluidR3 GM, "Yamaha Grand Piano", MIT;
- timgm: TimGM6mb, "Acoustic Grand", shipped inside pretty_midi (GPL-2); a small, plainer piano that
  only the test split uses, so the test set holds a piano never heard in training.
"""
import os
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter, oaconvolve

from hw.constants import SAMPLE_RATE


@dataclass(frozen=True)
class Piano:
    name: str
    description: str
    soundfont: str
    preset: int = 0


def _pretty_midi_soundfont():
    import pretty_midi
    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


PIANOS = {
    "steinway": Piano("steinway", "MuseScore General Lite: Grand Piano (Steinway D)",
                      "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    "yamaha": Piano("yamaha", "FluidR3 GM: Yamaha Grand Piano", "/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "timgm": Piano("timgm", "TimGM6mb: Acoustic Grand (held out for the test split)", _pretty_midi_soundfont()),
}
TRAINING_PIANOS = ["steinway", "yamaha"]
UNSEEN_PIANO = "timgm"


@dataclass(frozen=True)
class Room:
    """The room and recording chain of one piece, drawn per piece."""
    rt60: float               # seconds for the reverb tail to fall by 60 dB
    wet: float                # reverb level against the direct sound; near 0 is a dry, close-miked studio
    damping: float            # 0..1, how much faster the highs of the tail die away
    predelay: float           # seconds between the direct sound and the tail
    brightness: float         # 0 = as sampled, 1 = strongly darkened by a one-pole low-pass
    peak_dbfs: float          # recording level
    noise_dbfs: float         # RMS of the background noise (hiss, room tone)

    @classmethod
    def draw(cls, rng):
        return cls(rt60=float(rng.uniform(0.2, 2.2)), wet=float(rng.uniform(0.0, 0.5)),
                   damping=float(rng.uniform(0.2, 0.8)), predelay=float(rng.uniform(0.005, 0.03)),
                   brightness=float(rng.uniform(0.0, 0.6)), peak_dbfs=float(rng.uniform(-14.0, -1.0)),
                   noise_dbfs=float(rng.uniform(-80.0, -58.0)))


def missing_soundfonts():
    return [p.soundfont for p in PIANOS.values() if not os.path.exists(p.soundfont)]


class Renderer:
    """Renders pieces with a fresh FluidSynth per piece, so no state (voices, dither) carries over.

    Fresh synths are cheap because one long-lived synth per soundfont keeps its samples in FluidSynth's
    per-process sample cache; decoding the compressed Steinway font costs seconds, reusing it 0.1 s.
    """

    def __init__(self):
        self.keepers = {}

    def new_synth(self, piano):
        import fluidsynth
        if not os.path.exists(piano.soundfont):
            raise FileNotFoundError(f"soundfont {piano.soundfont} is missing: run `make setup` "
                                    "(it installs fluid-soundfont-gm and musescore-general-soundfont-small)")
        synth = fluidsynth.Synth(gain=0.3, samplerate=float(SAMPLE_RATE))
        synth.setting("synth.chorus.active", 0)
        synth.setting("synth.reverb.active", 0)       # the room is added by `record`, deterministically
        synth.setting("synth.polyphony", 512)
        font = synth.sfload(piano.soundfont)
        synth.program_select(0, font, 0, piano.preset)
        return synth

    def render(self, performance, piano, room, rng):
        """Mono int16 audio at SAMPLE_RATE: the performance played on `piano` and recorded in `room`."""
        if piano.soundfont not in self.keepers:
            self.keepers[piano.soundfont] = self.new_synth(piano)
        synth = self.new_synth(piano)
        events = [(t, 0, 64, int(v)) for t, v in performance.pedal]
        for onset, offset, pitch, velocity in performance.notes:
            events += [(onset, 2, int(pitch), int(velocity)), (offset, 1, int(pitch), 0)]
        events.sort(key=lambda e: (e[0], e[1]))        # at one instant: pedal, then note-offs, then note-ons
        chunks, position = [], 0
        for time, kind, a, b in events:
            target = int(round(time * SAMPLE_RATE))
            if target > position:
                chunks.append(synth.get_samples(target - position))
                position = target
            if kind == 0:
                synth.cc(0, a, b)
            elif kind == 1:
                synth.noteoff(0, a)
            else:
                synth.noteon(0, a, b)
        total = int(round(performance.duration * SAMPLE_RATE))
        chunks.append(synth.get_samples(max(total - position, 1)))
        synth.delete()
        stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2)[:total]
        return record(stereo.mean(axis=1), room, rng)


def impulse_response(room, rng):
    """A synthetic room: the direct sound, then exponentially decaying noise that darkens as it decays."""
    n = int(room.rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    bright = rng.standard_normal(n)
    dark = lfilter([1 - room.damping], [1, -room.damping], bright)
    mix = np.exp(-t / (room.rt60 / 3))                   # the highs fade first
    tail = (bright * mix + dark * (1 - mix)) * np.exp(-6.91 * t / room.rt60)
    tail *= room.wet / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    delay = int(room.predelay * SAMPLE_RATE)
    ir = np.zeros(delay + n)
    ir[0] = 1.0
    ir[delay:] += tail
    return ir


def record(audio, room, rng):
    """The recording chain: room, tone colour, recording level and background noise, then 16-bit samples."""
    audio = oaconvolve(audio, impulse_response(room, rng))[: len(audio)]
    if room.brightness > 0:
        pole = 0.2 + 0.6 * room.brightness
        audio = (1 - room.brightness) * audio + room.brightness * lfilter([1 - pole], [1, -pole], audio)
    peak = np.abs(audio).max()
    if peak > 0:
        audio = audio * (10 ** (room.peak_dbfs / 20) / peak)
    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(len(audio)))     # red-ish room tone
    noise *= 10 ** (room.noise_dbfs / 20) / (np.sqrt(np.mean(noise ** 2)) + 1e-12)
    return np.clip(np.round((audio + noise) * 32767), -32768, 32767).astype(np.int16)
