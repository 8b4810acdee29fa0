"""Convert a real MAESTRO download (v1, v2 or v3) into the homework's subset and format.

The subset keeps MAESTRO's official splits, takes a seeded sample of each (100 / 20 / 50 pieces by
default, as in the original homework), and never lets one composition appear in two splits: a title
already taken by the test split is skipped in validation and train, and so on. Audio is mixed to mono,
resampled to 16 kHz and written as 16-bit FLAC; MIDI files are copied unchanged.
"""
import csv
import glob
import json
import multiprocessing
import os
import shutil
from fractions import Fraction

import numpy as np
import soundfile
from scipy.signal import resample_poly
from tqdm import tqdm

from hw.constants import SAMPLE_RATE

from .maestro_format import FIELDS, SPLITS, write_flac, write_metadata

DEFAULT_COUNTS = {"train": 100, "validation": 20, "test": 50}


def read_metadata(src):
    """MAESTRO's records from the json or csv file at the top of an extracted download."""
    candidates = sorted(glob.glob(os.path.join(src, "maestro-v*.json")) + glob.glob(os.path.join(src, "maestro-v*.csv")))
    if not candidates:
        raise SystemExit(f"error: no maestro-v*.json or maestro-v*.csv in {src}. Point --src at the extracted "
                         "MAESTRO folder (the one holding the year folders and the metadata file).")
    path = candidates[-1]
    if path.endswith(".csv"):
        with open(path, newline="") as f:
            records = list(csv.DictReader(f))
    else:
        with open(path) as f:
            data = json.load(f)
        if isinstance(data, dict):     # v3: one column per field, keyed by row number
            rows = sorted(data["canonical_title"], key=int)
            records = [{field: data[field][row] for field in data} for row in rows]
        else:                          # v1 and v2: a list of records
            records = data
    for record in records:
        record["year"] = int(record["year"])
        record["duration"] = float(record["duration"])
    return path, records


def choose(records, counts, seed):
    """A seeded subset per official split; a composition already chosen for one split is kept out of the others."""
    rng = np.random.default_rng(seed)
    taken_titles, chosen = set(), []
    for split in ["test", "validation", "train"]:
        candidates = [r for r in records if r["split"] == split]
        picked = []
        for i in rng.permutation(len(candidates)):
            record = candidates[i]
            title = (record["canonical_composer"], record["canonical_title"])
            if title in taken_titles and title not in {(r["canonical_composer"], r["canonical_title"]) for r in picked}:
                continue
            picked.append(record)
            if len(picked) == counts[split]:
                break
        if len(picked) < counts[split]:
            print(f"warning: only {len(picked)} {split} pieces available, {counts[split]} asked for")
        taken_titles |= {(r["canonical_composer"], r["canonical_title"]) for r in picked}
        chosen += sorted(picked, key=lambda r: r["audio_filename"])
    return chosen


def convert(job):
    record, src, out = job
    audio_in = os.path.join(src, record["audio_filename"])
    stem = os.path.splitext(record["audio_filename"])[0]
    audio_filename = stem + ".flac"
    os.makedirs(os.path.dirname(os.path.join(out, audio_filename)), exist_ok=True)
    if not os.path.exists(os.path.join(out, audio_filename)):
        audio, rate = soundfile.read(audio_in, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if rate != SAMPLE_RATE:
            ratio = Fraction(SAMPLE_RATE, rate)
            audio = resample_poly(audio, ratio.numerator, ratio.denominator)
        write_flac(os.path.join(out, audio_filename), np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16))
    midi_out = os.path.join(out, record["midi_filename"])
    if not os.path.exists(midi_out):
        shutil.copyfile(os.path.join(src, record["midi_filename"]), midi_out + ".part")
        os.replace(midi_out + ".part", midi_out)
    return {**{f: record[f] for f in FIELDS}, "audio_filename": audio_filename}


def import_maestro(src, out, counts=None, seed=0, jobs=None):
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    metadata_path, records = read_metadata(src)
    missing = [r for r in records if not os.path.exists(os.path.join(src, r["audio_filename"]))]
    chosen = choose([r for r in records if r not in missing], counts, seed)
    if missing:
        print(f"warning: {len(missing)} records of {metadata_path} have no audio file and were left out")
    os.makedirs(out, exist_ok=True)
    work = [(r, src, out) for r in chosen]
    jobs = jobs or min(len(work), os.cpu_count() or 1) or 1
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        converted = list(tqdm(pool.imap(convert, work), total=len(work), desc="converting MAESTRO", unit="piece"))
    return write_metadata(out, converted)


__all__ = ["import_maestro", "read_metadata", "choose", "SPLITS"]
