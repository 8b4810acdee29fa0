"""hw/dataset.py on real FLAC and MIDI files: labels (pedal, offsets, velocity, re-onset), cache, errors."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
from torch.utils.data import DataLoader

from pieces import write_piece, write_records
from dataset import DataError, MAESTRO_small, allocate_batch

FPS = 16000 / 512


def frame(seconds):
    return int(seconds * FPS)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """One 5-second piece whose notes and pedal test every labelling rule."""
    folder = str(tmp_path_factory.mktemp("labelled"))
    notes = [
        (0.50, 1.00, 60, 80),     # plain note
        (2.10, 2.50, 64, 100),    # released under the pedal: sounds until the pedal lifts at 4.0
        (2.20, 2.40, 67, 40),     # released under the pedal, then struck again at 3.0
        (3.00, 3.20, 67, 90),     # ... this second strike ends the first note
        (4.80, 6.00, 72, 70),     # runs past the end of the audio
        (5.50, 5.90, 74, 70),     # starts after the end of the audio
    ]
    pedal = [(1.9, 127), (4.0, 0)]
    record = write_piece(folder, "rules", notes, pedal, seconds=5.0)
    write_records(folder, [record])
    return folder


def test_labels_follow_pedal_offsets_velocity_and_reonset(labelled):
    item = MAESTRO_small(labelled, groups=["train"], sequence_length=None)[0]
    n_frames = 80000 // 512
    assert item["audio"].shape == (n_frames * 512,) and item["frame"].shape == (n_frames, 88)
    assert -1 <= item["audio"].min() and item["audio"].max() <= 1 and item["audio"].abs().max() > 0.05
    onset, offset, frames, velocity = (item[k].numpy() for k in ("onset", "offset", "frame", "velocity"))
    c4, e4, g4, c5 = 60 - 21, 64 - 21, 67 - 21, 72 - 21

    assert np.flatnonzero(frames[:, c4]).tolist() == list(range(frame(0.5), frame(1.0)))
    assert np.flatnonzero(onset[:, c4]).tolist() == [frame(0.5)]
    assert np.flatnonzero(offset[:, c4]).tolist() == [frame(1.0)]
    assert velocity[frame(0.5), c4] == pytest.approx(80 / 128)

    # The pedal holds E4 from its release at 2.5 s to the pedal lift at 4.0 s.
    assert np.flatnonzero(frames[:, e4]).tolist() == list(range(frame(2.1), frame(4.0)))
    assert np.flatnonzero(offset[:, e4]).tolist() == [frame(4.0)]

    # G4 held by the pedal until struck again at 3.0 s; the second strike is held until 4.0 s.
    assert np.flatnonzero(onset[:, g4]).tolist() == [frame(2.2), frame(3.0)]
    assert np.flatnonzero(frames[:, g4]).tolist() == list(range(frame(2.2), frame(4.0)))
    assert velocity[frame(2.2), g4] == pytest.approx(40 / 128)
    assert velocity[frame(3.0), g4] == pytest.approx(90 / 128)

    # MIDI past the end of the audio: clipped, and a note starting after the end is dropped.
    assert frames[frame(4.8):, c5].all() and not offset[:, c5].any()
    assert not frames[:, 74 - 21].any()
    assert frames.sum() == sum(len(range(a, b)) for a, b in
                               [(frame(0.5), frame(1.0)), (frame(2.1), frame(4.0)), (frame(2.2), frame(4.0)),
                                (frame(4.8), n_frames)])


def test_crops_are_seeded_and_validation_crops_start_at_zero(labelled):
    full = MAESTRO_small(labelled, groups=["train"], sequence_length=None)[0]
    first = MAESTRO_small(labelled, groups=["train"], sequence_length=51200, random_sample=False)[0]
    assert first["frame"].shape == (100, 88)
    assert torch.equal(first["frame"], full["frame"][:100]) and torch.equal(first["audio"], full["audio"][:51200])
    a = [MAESTRO_small(labelled, groups=["train"], sequence_length=25600, seed=7)[0]["audio"] for _ in range(2)]
    assert torch.equal(a[0], a[1])
    crops = MAESTRO_small(labelled, groups=["train"], sequence_length=25600, seed=7)
    starts = set()
    for _ in range(8):
        crop = crops[0]
        start = next(s for s in range(0, len(full["audio"]) - 25600 + 1, 512)
                     if torch.equal(full["audio"][s:s + 25600], crop["audio"]))
        assert torch.equal(full["frame"][start // 512:start // 512 + 50], crop["frame"])
        starts.add(start)
    assert len(starts) > 1


def test_cache_is_memory_mapped_and_follows_file_changes(labelled, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(labelled, folder)
    first = MAESTRO_small(folder, groups=["train"], sequence_length=None)
    assert isinstance(first.pieces[0]["audio"], np.memmap)
    assert any(name.endswith(".audio.npy") for name in os.listdir(os.path.join(folder, ".cache")))
    again = MAESTRO_small(folder, groups=["train"], sequence_length=None)
    assert torch.equal(first[0]["frame"], again[0]["frame"])
    # A changed MIDI file gets new labels, not the stale cached ones.
    record = write_piece(folder, "rules", [(0.5, 1.0, 60, 80)], [], seconds=5.0)
    write_records(folder, [record])
    changed = MAESTRO_small(folder, groups=["train"], sequence_length=None)[0]
    assert changed["frame"].sum() == frame(1.0) - frame(0.5)


def test_runs_started_together_cache_the_same_pieces_safely(tiny_data, tmp_path):
    # Four runs at once on fresh data (bench/gpu_check.sh, or a student's seeds side by side) each write
    # every piece's cache; each must load whole arrays and leave no half-written file behind.
    folder = str(tmp_path / "copy")
    shutil.copytree(tiny_data, folder, ignore=shutil.ignore_patterns(".cache"))
    # The first cache file each run writes waits a second after opening it, so the runs meet on that write.
    load = ("import sys, time, numpy, dataset\n"
            "save, waited = numpy.save, []\n"
            "def slow_save(file, array):\n"
            "    waited or time.sleep(1.0); waited.append(1); save(file, array)\n"
            "dataset.np.save = slow_save\n"
            "d = dataset.MAESTRO_small(sys.argv[1], groups=['train', 'validation'], sequence_length=None)\n"
            "print(sum(int(numpy.abs(p['audio']).sum()) for p in d.pieces))")
    runs = [subprocess.Popen([sys.executable, "-c", load, folder], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
            for _ in range(4)]
    outcomes = [run.communicate() + (run.returncode,) for run in runs]
    assert all(code == 0 for _, _, code in outcomes), [err[-500:] for _, err, _ in outcomes]
    alone = MAESTRO_small(folder, groups=["train", "validation"], sequence_length=None)
    # The last line: pyFluidSynth announces where it found its library when $CI is set.
    assert {out.strip().splitlines()[-1] for out, _, _ in outcomes} == {str(sum(int(np.abs(p["audio"]).sum()) for p in alone.pieces))}
    assert not [name for name in os.listdir(os.path.join(folder, ".cache")) if name.endswith(".part")]


def test_tiny_set_batches(tiny_data):
    dataset = MAESTRO_small(tiny_data, groups=["train"], sequence_length=102400)
    batch = allocate_batch(next(iter(DataLoader(dataset, batch_size=2))), "cpu")
    assert batch["audio"].shape == (2, 102400) and batch["onset"].shape == (2, 200, 88)
    assert batch["frame"].sum() > 0 and len(batch["path"]) == 2
    debug = MAESTRO_small(tiny_data, groups=["debug"])
    assert [p["path"] for p in debug.pieces] == [p["path"] for p in dataset.pieces][:10]


def test_missing_data_folder_names_the_command(tmp_path):
    with pytest.raises(DataError, match="make data"):
        MAESTRO_small(str(tmp_path / "nowhere"), groups=["train"])


def test_record_pointing_nowhere_names_the_record(labelled, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(labelled, folder)
    os.remove(os.path.join(folder, "train", "rules.flac"))
    with pytest.raises(DataError, match=r"record 0 .*'rules'.*rules\.flac"):
        MAESTRO_small(folder, groups=["train"])


def test_corrupt_audio_and_midi_name_the_file(labelled, tmp_path):
    for name in ("rules.flac", "rules.midi"):
        folder = str(tmp_path / name)
        shutil.copytree(labelled, folder)
        shutil.rmtree(os.path.join(folder, ".cache"), ignore_errors=True)
        path = os.path.join(folder, "train", name)
        with open(path, "r+b") as f:
            f.seek(0)
            f.write(b"\0garbage" * 64)
        with pytest.raises(DataError, match=f"{name}.*damaged"):
            MAESTRO_small(folder, groups=["train"])


def test_wrong_sample_rate_or_channels_is_refused(labelled, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(labelled, folder)
    shutil.rmtree(os.path.join(folder, ".cache"))
    soundfile.write(os.path.join(folder, "train", "rules.flac"), np.zeros((44100 * 5, 2)), 44100, subtype="PCM_16")
    with pytest.raises(DataError, match="44100 Hz with 2 channel.*python -m data maestro"):
        MAESTRO_small(folder, groups=["train"])


def test_unknown_group_is_refused(labelled):
    with pytest.raises(DataError, match="unknown group 'training'"):
        MAESTRO_small(labelled, groups=["training"])


def test_train_script_reports_missing_data_in_one_line(tmp_path):
    hw = os.path.join(os.path.dirname(__file__), "..", "hw")
    result = subprocess.run([sys.executable, "train.py", "--debug", "--data_path", str(tmp_path / "nowhere"),
                             "--logdir", str(tmp_path / "run")], cwd=hw, capture_output=True, text=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "no data at" in result.stderr and "make data" in result.stderr
    assert not (tmp_path / "run").exists()
