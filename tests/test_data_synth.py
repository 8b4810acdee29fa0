"""The offline data builder: layout, content, determinism and resumption, on real rendered files."""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, replace

import numpy as np
import pretty_midi
import pytest
import soundfile

from data import etudes
from data.maestro_format import FIELDS
from data.performance import perform
from data.render import PIANOS, UNSEEN_PIANO
from data.synth import SIZES, build, plan, record_path


def records_of(folder):
    with open(os.path.join(folder, "data.json")) as f:
        return json.load(f)


def test_tiny_set_is_maestro_format(tiny_data):
    records = records_of(tiny_data)
    assert [r["split"] for r in records].count("train") == SIZES["tiny"].pieces["train"]
    assert {r["split"] for r in records} == {"train", "validation", "test"}
    for record in records:
        assert set(FIELDS) <= set(record)
        info = soundfile.info(os.path.join(tiny_data, record["audio_filename"]))
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 16000, 1)
        assert abs(info.frames / 16000 - record["duration"]) < 1e-3
        midi = pretty_midi.PrettyMIDI(os.path.join(tiny_data, record["midi_filename"]))
        assert len(midi.instruments[0].notes) > 10
    titles = {split: {r["canonical_title"] for r in records if r["split"] == split} for split in ("train", "validation", "test")}
    assert not titles["train"] & titles["test"] and not titles["validation"] & titles["test"]
    assert not titles["train"] & titles["validation"]
    assert "timgm" in {r["piano"] for r in records if r["split"] == "test"}
    assert "timgm" not in {r["piano"] for r in records if r["split"] != "test"}
    assert {r["room"]["family"] for r in records if r["split"] == "test"} == {"phone"}
    assert "phone" not in {r["room"]["family"] for r in records if r["split"] != "test"}
    assert "salamander" in {r["piano"] for r in records}


def test_performances_are_humanised(tiny_data):
    notes = []
    pedal_events = 0
    for record in records_of(tiny_data):
        midi = pretty_midi.PrettyMIDI(os.path.join(tiny_data, record["midi_filename"]))
        notes += midi.instruments[0].notes
        pedal_events += sum(c.number == 64 for c in midi.instruments[0].control_changes)
    velocities = np.array([n.velocity for n in notes])
    onsets = np.array([n.start for n in notes])
    assert velocities.max() - velocities.min() >= 40          # wide dynamics, not a flat velocity
    assert pedal_events > 0
    # Onsets off any metrical grid: inter-onset gaps take many distinct values.
    assert len(np.unique(np.round(np.diff(np.sort(onsets)), 3))) > 50


def test_same_seed_gives_same_files(tiny_data, tmp_path):
    # The session build split the pieces between one process per core; here one process renders them all,
    # one after another: no piece may depend on the pieces rendered before it.
    build("tiny", str(tmp_path), seed=0, jobs=1)
    for record in records_of(tiny_data):
        for key in ("midi_filename", "audio_filename"):
            with open(os.path.join(tiny_data, record[key]), "rb") as a, open(tmp_path / record[key], "rb") as b:
                assert a.read() == b.read(), record[key]


def render_in_one_process(indices, out):
    """Render pieces of the tiny plan one after another in this process; returns the last one's audio file."""
    from data.synth import build_piece
    pieces = plan("tiny", 0)
    for index in indices:
        record = build_piece((pieces[index], out, 0, SIZES["tiny"].max_seconds))
    return os.path.join(out, record["audio_filename"])


def test_a_piece_is_the_same_bytes_whatever_its_process_rendered_before(tmp_path):
    import multiprocessing
    pieces = plan("tiny", 0)
    sampled = next(p.index for p in pieces if p.piano == "salamander")
    synthesised = next(p.index for p in pieces if p.piano != "salamander" and p.index > sampled)   # FluidSynth
    context = multiprocessing.get_context("spawn")
    files = []
    for name, indices in (("alone", [synthesised]), ("after", [sampled, synthesised])):
        with context.Pool(1) as pool:                 # a fresh process, as a build's workers are
            files.append(pool.apply(render_in_one_process, (indices, str(tmp_path / name))))
    with open(files[0], "rb") as alone, open(files[1], "rb") as after:
        assert alone.read() == after.read(), f"{pieces[synthesised].piano} piece changed by a sampled one before it"


def test_interrupted_build_resumes_without_redoing_work(tiny_data, tmp_path):
    out = str(tmp_path / "copy")
    shutil.copytree(tiny_data, out)
    pieces = plan("tiny", 0)
    lost = pieces[2]
    records = records_of(out)
    lost_audio = os.path.join(out, records[2]["audio_filename"])
    with open(lost_audio, "rb") as f:
        original = f.read()
    # An interruption while writing piece 2: its record never written, a half-written FLAC left behind.
    os.remove(record_path(out, lost))
    os.remove(lost_audio)
    with open(lost_audio + ".part", "wb") as f:
        f.write(original[:1000])
    others = {r["audio_filename"]: os.stat(os.path.join(out, r["audio_filename"])).st_mtime_ns
              for r in records if r["audio_filename"] != records[2]["audio_filename"]}
    build("tiny", out, seed=0, jobs=1)
    with open(lost_audio, "rb") as f:
        assert f.read() == original
    for name, mtime in others.items():
        assert os.stat(os.path.join(out, name)).st_mtime_ns == mtime, f"{name} was rebuilt"
    assert records_of(out) == records


def test_build_refuses_to_mix_seeds(tiny_data, tmp_path):
    out = str(tmp_path / "copy")
    shutil.copytree(tiny_data, out)
    with pytest.raises(SystemExit, match="seed"):
        build("tiny", out, seed=1)


def test_default_plan_has_the_original_shape():
    pieces = plan("default", 0)
    count = {split: sum(p.split == split for p in pieces) for split in ("train", "validation", "test")}
    assert count == {"train": 100, "validation": 20, "test": 50}
    works = [p.work for p in pieces if p.work is not None]
    assert len(works) == len(set(works))                 # no composition twice, so none in two splits
    assert {w.pool for w in works} == {"chorales", "chamber", "vocal", "keyboard"}
    test_pianos = [p.piano for p in pieces if p.split == "test"]
    assert test_pianos.count("timgm") >= len(test_pianos) // 4
    # The held-out piano and room family occur in the test split only, and every pairing of the two
    # kinds of novelty with the familiar ones is there.
    seen = [p for p in pieces if p.split != "test"]
    assert "timgm" not in {p.piano for p in seen} and "phone" not in {p.family for p in seen}
    assert {p.family for p in seen} == {"studio", "hall", "home"}
    assert {p.piano for p in seen} == {"salamander", "steinway", "yamaha"}
    pairs = {(p.piano == "timgm", p.family == "phone") for p in pieces if p.split == "test"}
    assert pairs == {(False, False), (False, True), (True, False), (True, True)}
    assert sum(p.family == "phone" for p in pieces if p.split == "test") >= len(test_pianos) // 4
    assert plan("default", 0) == pieces and plan("default", 1) != pieces


def test_the_large_plan_adds_training_pieces_only(monkeypatch):
    """`large` (for the pretrained transcriber) validates and tests on exactly default's pieces, and trains on
    five times as many, none of them a work of those splits, on nine pianos: default's three, VSCO 2's, the
    two of freepats and three modal pianos, none of them the test split's held-out piano."""
    default, large = plan("default", 0), plan("large", 0)
    held = [p for p in default if p.split != "train"]
    assert [p for p in large if p.split != "train"] == held
    train = [p for p in large if p.split == "train"]
    assert len(train) == 5 * sum(p.split == "train" for p in default)
    assert not {p.work for p in train if p.work} & {p.work for p in held if p.work}
    assert not {p.etude_number for p in train if p.etude_number} & {p.etude_number for p in held if p.etude_number}
    pianos = [p.piano for p in train]
    assert set(pianos) == {"salamander", "steinway", "yamaha", "vsco2", "freepats-grand", "freepats-bright",
                           "modal-1", "modal-2", "modal-3"}
    assert UNSEEN_PIANO not in pianos
    for name, share in SIZES["large"].training_pianos.items():
        assert abs(pianos.count(name) / len(pianos) - share) < 0.06, (name, pianos.count(name))
    # Three quarters of the sampled training pieces have a drawn timbre; nothing else has one.
    sampled = [p for p in train if PIANOS[p.piano].samples is not None]
    assert {p.piano for p in sampled} == {"salamander", "vsco2", "freepats-grand", "freepats-bright",
                                          "modal-1", "modal-2", "modal-3"}
    assert 0.65 < sum(p.timbre is not None for p in sampled) / len(sampled) < 0.85
    assert all(p.timbre is None for p in large if p not in sampled) and all(p.timbre is None for p in default)
    assert len({p.timbre for p in sampled if p.timbre}) == sum(p.timbre is not None for p in sampled)
    # The timbres have their own random generator: the pianos and rooms are those drawn without timbres.
    monkeypatch.setitem(SIZES, "large", replace(SIZES["large"], varied_timbres=0.0))
    assert [replace(p, timbre=None) for p in large] == plan("large", 0)


def test_a_piece_with_a_drawn_timbre_records_it_and_sounds_different(tmp_path):
    from data.synth import build_piece
    piece = next(p for p in plan("large", 0) if p.timbre is not None)
    varied = build_piece((piece, str(tmp_path / "varied"), 0, 8.0))
    plain = build_piece((replace(piece, timbre=None), str(tmp_path / "plain"), 0, 8.0))
    assert varied["timbre"] == asdict(piece.timbre) and "timbre" not in plain
    audio = {name: soundfile.read(str(tmp_path / name / record["audio_filename"]))[0]
             for name, record in [("varied", varied), ("plain", plain)]}
    assert audio["varied"].shape == audio["plain"].shape
    difference = np.sqrt(np.mean((audio["varied"] - audio["plain"]) ** 2) / np.mean(audio["plain"] ** 2))
    assert difference > 0.05, difference


def test_etudes_cover_the_keyboard_and_hard_textures():
    rng = np.random.default_rng(0)
    pitches, max_chord, fastest, repeats = set(), 0, np.inf, 0
    for number in range(1, 40):
        score = etudes.etude(rng, number)
        notes = score.notes
        pitches |= set(notes[:, 0].astype(int))
        starts, counts = np.unique(notes[:, 1], return_counts=True)
        max_chord = max(max_chord, counts.max())
        fastest = min(fastest, np.diff(starts).min())
        for pitch in np.unique(notes[:, 0]):
            gaps = np.diff(np.sort(notes[notes[:, 0] == pitch, 1]))
            repeats += int(np.sum(np.isclose(gaps, 0.25)))
    assert pitches == set(range(21, 109))
    assert max_chord >= 9 and fastest <= 1 / 8 and repeats > 100


def test_performance_rolls_some_chords_and_uses_pedal():
    rng = np.random.default_rng(3)
    performances = [perform(etudes.etude(rng, n), rng) for n in range(1, 20)]
    assert sum(len(p.pedal) > 0 for p in performances) >= 10
    for p in performances:
        assert (p.notes[:, 1] > p.notes[:, 0]).all()
        assert p.notes[:, 3].min() >= 1 and p.notes[:, 3].max() <= 127


def test_a_build_without_the_npm_samples_names_the_command_that_fetches_them_and_writes_nothing(tmp_path):
    out = tmp_path / "set"
    run = subprocess.run([sys.executable, "-m", "data", "synth", "--size", "tiny", "--out", str(out)],
                         capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         env={**os.environ, "SALAMANDER_CACHE": str(tmp_path / "empty")}, timeout=300)
    assert run.returncode != 0
    assert "salamander piano samples are missing" in run.stderr and "python -m data samples" in run.stderr
    assert "Traceback" not in run.stderr and not out.exists()
