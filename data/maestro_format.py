"""The on-disk layout both builders write: DIR/data.json plus FLAC and MIDI files.

data.json is a JSON list of MAESTRO-v2 records (canonical_composer, canonical_title, split, year,
midi_filename, audio_filename, duration), with paths relative to DIR. Audio is 16 kHz mono 16-bit FLAC.
Every file is written under a temporary name and renamed into place, so a half-written file never
carries a final name.
"""
import json
import os

import numpy as np
import soundfile

from hw.constants import SAMPLE_RATE

SPLITS = ["train", "validation", "test"]
FIELDS = ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration"]


def write_flac(path, audio):
    assert audio.dtype == np.int16 and audio.ndim == 1
    soundfile.write(path + ".part", audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    os.replace(path + ".part", path)


def write_midi(path, notes, pedal):
    """A one-track piano MIDI file: notes are rows (onset s, offset s, pitch, velocity), pedal (time s, CC64)."""
    import pretty_midi
    midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0, name="Piano")
    piano.notes = [pretty_midi.Note(int(v), int(p), float(on), float(off)) for on, off, p, v in notes]
    piano.control_changes = [pretty_midi.ControlChange(64, int(value), float(t)) for t, value in pedal]
    midi.instruments.append(piano)
    with open(path + ".part", "wb") as f:
        midi.write(f)
    os.replace(path + ".part", path)


def write_metadata(out, records):
    for i, record in enumerate(records):
        missing = [f for f in FIELDS if f not in record]
        if missing or record["split"] not in SPLITS:
            raise ValueError(f"record {i} ({record.get('canonical_title')}) is not a MAESTRO record: {record}")
    path = os.path.join(out, "data.json")
    with open(path + ".part", "w") as f:
        json.dump(records, f, indent=1)
    os.replace(path + ".part", path)
    return path
