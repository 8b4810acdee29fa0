"""MAESTRO-format data: audio crops with their piano-roll labels.

A data folder holds `data.json` (a list of MAESTRO records) and 16 kHz mono FLAC and MIDI files. Build
one in the kit's root folder with `make data` (offline, synthesised) or
`python -m data maestro --src MAESTRO_DIR --out data/maestro` (from a real MAESTRO download).

Each piece is decoded once and cached in `<data>/.cache`: the audio as 16-bit samples and the labels as
a note list (onset frame, offset frame, key, velocity) with the sustain pedal already applied. Later
starts memory-map the cache, so they take a fraction of a second, and the piano rolls of a crop are
drawn from the note list when the crop is asked for.
"""
import hashlib
import json
import os
import tempfile

import numpy as np
import soundfile
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from constants import DEFAULT_DATA_PATH, HOP_SIZE, MAX_MIDI, MIN_MIDI, N_KEYS, SAMPLE_RATE

LABEL_VERSION = 1     # part of every cache name: change it when the labelling rules change
DEBUG_PIECES = 10     # the "debug" group: the first 10 training pieces, as in the original homework


class DataError(Exception):
    """A problem with the data on disk, said so that the reader knows how to fix it."""


class MAESTRO_small(Dataset):
    """Pieces of the groups asked for, as dicts of audio and T x 88 label rolls.

    groups: any of "train", "validation", "test" and "debug".
    sequence_length: samples per item; None gives whole pieces.
    random_sample: a random crop per item (training), or the first `sequence_length` samples (validation).
    """

    def __init__(self, path=DEFAULT_DATA_PATH, groups=None, sequence_length=None, seed=42, random_sample=True):
        self.path = path
        self.groups = groups if groups is not None else ["train"]
        self.sequence_length = sequence_length
        self.random_sample = random_sample
        self.random = np.random.RandomState(seed)
        self.cache_dir = cache_folder(path)
        self.pieces = []
        for group in self.groups:
            for audio_path, midi_path in tqdm(self.files(group), desc=f"Loading group {group}", leave=False):
                self.pieces.append(load_piece(audio_path, midi_path, self.path, self.cache_dir))

    def files(self, group):
        """(audio, MIDI) paths of a group, sorted, each checked to exist."""
        records = read_records(self.path)
        split = "train" if group == "debug" else group
        if split not in ("train", "validation", "test"):
            raise DataError(f"unknown group {group!r}: choose from train, validation, test and debug")
        files = []
        for index, record in enumerate(records):
            if record["split"] != split:
                continue
            audio = os.path.join(self.path, record["audio_filename"])
            if not os.path.exists(audio) and audio.endswith(".wav"):
                audio = audio[:-len(".wav")] + ".flac"        # MAESTRO's records name .wav files
            midi = os.path.join(self.path, record["midi_filename"])
            for kind, file in (("audio", audio), ("MIDI", midi)):
                if not os.path.exists(file):
                    raise DataError(f"record {index} of {os.path.join(self.path, 'data.json')} "
                                    f"({record['canonical_title']!r}) points to {kind} file {file}, which does not "
                                    "exist. Rebuild the data folder or fix the record.")
            files.append((audio, midi))
        files.sort()
        return files[:DEBUG_PIECES] if group == "debug" else files

    def __len__(self):
        return len(self.pieces)

    def label_rates(self):
        """The share of (frame, key) cells in which each on/off label (frame, onset, offset) is on,
        over the whole pieces."""
        on, cells = dict.fromkeys(("frame", "onset", "offset"), 0.0), 0
        for piece in self.pieces:
            n_frames = len(piece["audio"]) // HOP_SIZE
            rolls = piano_rolls(piece["notes"], 0, n_frames)
            for name in on:
                on[name] += float(rolls[name].sum())
            cells += n_frames * N_KEYS
        return {name: count / cells for name, count in on.items()}

    def __getitem__(self, index):
        piece = self.pieces[index]
        n_frames = len(piece["audio"]) // HOP_SIZE
        if self.sequence_length is None:
            first, length = 0, n_frames
        else:
            length = self.sequence_length // HOP_SIZE
            last_start = max(n_frames - length, 0)
            first = self.random.randint(last_start + 1) if self.random_sample else 0
        audio = np.zeros(length * HOP_SIZE, dtype=np.float32)          # zeros pad a piece shorter than a crop
        samples = piece["audio"][first * HOP_SIZE:(first + length) * HOP_SIZE]
        audio[:len(samples)] = samples / 32768.0
        rolls = piano_rolls(piece["notes"], first, length)
        return {"path": piece["path"], "audio": torch.from_numpy(audio),
                **{name: torch.from_numpy(roll) for name, roll in rolls.items()}}


def allocate_batch(batch, device):
    """Move every tensor of a batch to `device` (the paths stay as they are)."""
    return {key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value
            for key, value in batch.items()}


def read_records(path):
    metadata = os.path.join(path, "data.json")
    if not os.path.exists(metadata):
        raise DataError(f"no data at {os.path.abspath(path)} (no data.json there). Build the default data with "
                        "`make data` in the kit's root folder, or pass --data_path pointing at a folder made by "
                        "`python -m data synth` or `python -m data maestro`.")
    try:
        with open(metadata) as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise DataError(f"{metadata} is not valid JSON ({error}). Rebuild the data folder.") from None


def cache_folder(path):
    """<data>/.cache, or a folder in the temporary directory when the data folder is read-only."""
    folder = os.path.join(path, ".cache")
    try:
        os.makedirs(folder, exist_ok=True)
        return folder
    except OSError:
        name = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
        folder = os.path.join(tempfile.gettempdir(), f"maestro-cache-{name}")
        os.makedirs(folder, exist_ok=True)
        return folder


def load_piece(audio_path, midi_path, data_path, cache_dir):
    """A piece's int16 audio and note list, from the cache when it is there and up to date."""
    stat_audio, stat_midi = os.stat(audio_path), os.stat(midi_path)
    fingerprint = hashlib.sha1(f"{LABEL_VERSION} {stat_audio.st_size} {stat_audio.st_mtime_ns} "
                               f"{stat_midi.st_size} {stat_midi.st_mtime_ns}".encode()).hexdigest()[:12]
    stem = os.path.splitext(os.path.relpath(audio_path, data_path))[0].replace(os.sep, "__")
    audio_cache = os.path.join(cache_dir, f"{stem}.{fingerprint}.audio.npy")
    notes_cache = os.path.join(cache_dir, f"{stem}.{fingerprint}.notes.npy")
    if not (os.path.exists(audio_cache) and os.path.exists(notes_cache)):
        audio = read_audio(audio_path)
        notes = note_frames(read_notes(midi_path), n_frames=len(audio) // HOP_SIZE)
        save_atomically(audio_cache, audio)
        save_atomically(notes_cache, notes)
    return {"path": audio_path, "audio": np.load(audio_cache, mmap_mode="r"), "notes": np.load(notes_cache)}


def save_atomically(path, array):
    """Write to a file of this process's own, then rename: runs started together may cache the same piece."""
    part = f"{path}.{os.getpid()}.part"
    with open(part, "wb") as f:
        np.save(f, array)
    os.replace(part, path)


def read_audio(path):
    """16-bit samples of a 16 kHz mono audio file."""
    try:
        info = soundfile.info(path)
        if info.samplerate != SAMPLE_RATE or info.channels != 1:
            raise DataError(f"{path} is {info.samplerate} Hz with {info.channels} channel(s), but this homework "
                            f"reads {SAMPLE_RATE} Hz mono. Convert a MAESTRO download with `python -m data maestro "
                            "--src MAESTRO_DIR --out data/maestro` in the kit's root folder.")
        audio, _ = soundfile.read(path, dtype="int16")
    except (soundfile.LibsndfileError, RuntimeError, EOFError) as error:
        raise DataError(f"cannot decode audio file {path} ({error}). The file is damaged or not audio: "
                        "rebuild the data folder.") from None
    if len(audio) < HOP_SIZE:
        raise DataError(f"audio file {path} holds {len(audio)} samples, less than one frame.")
    return audio


def read_notes(path):
    """Notes of a MIDI file as rows (onset s, offset s, pitch, velocity), with the sustain pedal applied.

    A key released while the sustain pedal (controller 64) is down keeps sounding until the pedal is
    lifted, or until the same key is struck again, whichever comes first.
    """
    import pretty_midi
    try:
        midi = pretty_midi.PrettyMIDI(path)
    except Exception as error:     # mido and pretty_midi raise many kinds for a broken file
        raise DataError(f"cannot read MIDI file {path} ({type(error).__name__}: {error}). "
                        "The file is damaged or not MIDI: rebuild the data folder.") from None
    rows, pedal = [], []
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        rows += [(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes]
        pedal += [(c.time, c.value >= 64) for c in instrument.control_changes if c.number == 64]
    notes = np.array(rows, dtype=np.float64).reshape(-1, 4)

    presses, lifts, down = [], [], None
    for time, pressed in sorted(pedal):
        if pressed and down is None:
            down = time
        elif not pressed and down is not None:
            presses.append(down)
            lifts.append(time)
            down = None
    if down is not None:
        presses.append(down)
        lifts.append(np.inf)
    presses, lifts = np.array(presses), np.array(lifts)
    if len(presses):
        pedal_index = np.searchsorted(presses, notes[:, 1], side="right") - 1
        held = (pedal_index >= 0) & (notes[:, 1] < lifts[pedal_index.clip(min=0)])
        notes[held, 1] = lifts[pedal_index[held]]

    by_key = notes[np.lexsort((notes[:, 0], notes[:, 2]))]
    struck_again = np.r_[by_key[1:, 2] == by_key[:-1, 2], False]
    next_onset = np.r_[by_key[1:, 0], np.inf]
    by_key[struck_again, 1] = np.minimum(by_key[struck_again, 1], next_onset[struck_again])
    return by_key[np.argsort(by_key[:, 0], kind="stable")]


def note_frames(notes, n_frames):
    """Notes in frames: int32 rows (onset frame, offset frame, key 0-87, velocity), clipped to the audio.

    Frame i covers samples [i * HOP_SIZE, (i + 1) * HOP_SIZE); a note lasts at least one frame. Notes
    that start after the audio ends (MIDI longer than its recording) are dropped.
    """
    frames_per_second = SAMPLE_RATE / HOP_SIZE
    onset = (notes[:, 0] * frames_per_second).astype(np.int64)
    offset = np.maximum(np.minimum(notes[:, 1] * frames_per_second, n_frames).astype(np.int64), onset + 1)
    keep = (onset < n_frames) & (notes[:, 2] >= MIN_MIDI) & (notes[:, 2] <= MAX_MIDI)
    table = np.stack([onset, np.minimum(offset, n_frames), notes[:, 2] - MIN_MIDI, notes[:, 3]], axis=1)
    return table[keep].astype(np.int32)


def piano_rolls(notes, first, length):
    """Onset, offset, frame and velocity rolls (length x 88, float32) of frames [first, first + length).

    onset/offset: 1 in the frame where a note starts/ends; frame: 1 while it sounds;
    velocity: its MIDI velocity / 128 while it sounds.
    """
    rolls = {name: np.zeros((length, N_KEYS), dtype=np.float32) for name in ("onset", "offset", "frame", "velocity")}
    in_window = notes[(notes[:, 0] < first + length) & (notes[:, 1] >= first)]
    for onset, offset, key, velocity in in_window - [first, first, 0, 0]:
        start = max(onset, 0)
        rolls["frame"][start:offset, key] = 1
        rolls["velocity"][start:offset, key] = velocity / 128
        if onset >= 0:
            rolls["onset"][onset, key] = 1
        if offset < length:
            rolls["offset"][offset, key] = 1
    return rolls
