"""Hand-written pieces for the tests: real FLAC rendered by FluidSynth, real MIDI, MAESTRO records."""
import json
import os

import numpy as np

from data.maestro_format import write_flac, write_metadata, write_midi
from data.performance import Performance
from data.render import PIANOS, Renderer


def write_piece(folder, stem, notes, pedal, seconds, split="train", title=None):
    """Render hand-written notes to a real FLAC file with FluidSynth, write its MIDI, return its record."""
    notes = np.array(notes, dtype=np.float64).reshape(-1, 4)
    pedal = np.array(pedal, dtype=np.float64).reshape(-1, 2)
    os.makedirs(os.path.join(folder, split), exist_ok=True)
    audio = Renderer().render(Performance(notes, pedal, seconds), PIANOS["yamaha"], None,
                              np.random.default_rng(0))
    write_flac(os.path.join(folder, split, stem + ".flac"), audio)
    write_midi(os.path.join(folder, split, stem + ".midi"), notes, pedal)
    return {"canonical_composer": "Test", "canonical_title": title or stem, "split": split, "year": 2026,
            "midi_filename": f"{split}/{stem}.midi", "audio_filename": f"{split}/{stem}.flac",
            "duration": len(audio) / 16000}


def write_records(folder, records):
    write_metadata(folder, records)
    with open(os.path.join(folder, "data.json")) as f:
        return json.load(f)
