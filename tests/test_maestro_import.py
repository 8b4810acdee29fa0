"""`python -m data maestro` on a small fake MAESTRO tree: 44.1 kHz stereo WAV + MIDI, v1/v2 json, v3 json, csv."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from data.maestro import choose
from data.maestro_format import FIELDS, write_midi
from dataset import MAESTRO_small

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (split, composer, title): "Shared" appears in train and test, as happens in MAESTRO v1.
PIECES = ([("train", "A", f"Train {i}") for i in range(5)] + [("train", "B", "Shared")] +
          [("validation", "C", f"Validation {i}") for i in range(3)] +
          [("test", "D", f"Test {i}") for i in range(2)] + [("test", "B", "Shared")])


def fake_maestro(folder, layout):
    records = []
    for i, (split, composer, title) in enumerate(PIECES):
        year = 2004 + i % 3
        os.makedirs(os.path.join(folder, str(year)), exist_ok=True)
        stem = f"{year}/piece_{i:02d}"
        t = np.arange(int(44100 * 2.0)) / 44100
        tone = 0.3 * np.sin(2 * np.pi * 440 * 2 ** ((i - 9) / 12) * t)
        soundfile.write(os.path.join(folder, stem + ".wav"), np.stack([tone, 0.5 * tone], axis=1), 44100, subtype="PCM_16")
        write_midi(os.path.join(folder, stem + ".midi"), [(0.2, 1.5, 60 + i, 64)], [])
        records.append({"canonical_composer": composer, "canonical_title": title, "split": split, "year": year,
                        "midi_filename": stem + ".midi", "audio_filename": stem + ".wav", "duration": 2.0})
    if layout == "v2-json":
        with open(os.path.join(folder, "maestro-v2.0.0.json"), "w") as f:
            json.dump(records, f)
    elif layout == "v3-json":
        columns = {field: {str(i): r[field] for i, r in enumerate(records)} for field in FIELDS}
        with open(os.path.join(folder, "maestro-v3.0.0.json"), "w") as f:
            json.dump(columns, f)
    else:
        with open(os.path.join(folder, "maestro-v1.0.0.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(records)
    return records


@pytest.mark.parametrize("layout", ["v2-json", "v3-json", "v1-csv"])
def test_import_keeps_splits_and_converts_to_16k_mono(tmp_path, layout):
    source, out = str(tmp_path / "maestro"), str(tmp_path / "out")
    originals = {r["midi_filename"]: r for r in fake_maestro(source, layout)}
    result = subprocess.run([sys.executable, "-m", "data", "maestro", "--src", source, "--out", out,
                             "--train", "4", "--validation", "2", "--test", "2", "--seed", "3", "--jobs", "1"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "data.json")) as f:
        records = json.load(f)
    assert [r["split"] for r in records].count("train") == 4
    assert [r["split"] for r in records].count("validation") == 2
    assert [r["split"] for r in records].count("test") == 2
    for record in records:
        assert record["split"] == originals[record["midi_filename"]]["split"]     # official split kept
        info = soundfile.info(os.path.join(out, record["audio_filename"]))
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert abs(info.frames - 32000) <= 1
    titles = {}
    for record in records:
        titles.setdefault(record["canonical_title"], set()).add(record["split"])
    assert all(len(splits) == 1 for splits in titles.values())
    item = MAESTRO_small(out, groups=["test"], sequence_length=None)[0]
    assert item["audio"].abs().max() > 0.1 and item["onset"].sum() == 1


def test_one_composition_never_lands_in_two_splits():
    records = [{"canonical_composer": c, "canonical_title": t, "split": s, "audio_filename": f"{i}.wav"}
               for i, (s, c, t) in enumerate(PIECES)]
    for seed in range(20):
        chosen = choose(records, {"train": 6, "validation": 3, "test": 3}, seed)
        shared = {r["split"] for r in chosen if r["canonical_title"] == "Shared"}
        assert shared == {"test"}                  # test is chosen first and keeps it
        assert len(chosen) == 11


def test_missing_metadata_says_where_to_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "data", "maestro", "--src", str(tmp_path), "--out",
                             str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no maestro-v*.json or maestro-v*.csv" in result.stderr
