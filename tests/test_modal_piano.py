"""The modal pianos (data/modal_piano.py), listened to: pitch, stretched partials, velocity, decay, the cache."""
import json
import os
from dataclasses import replace

import numpy as np
import pytest
import soundfile
from mir_eval.util import midi_to_hz

from data.modal_piano import MODAL_PIANOS
from data.performance import Performance
from data.sampler import SamplePlayer
from hw.constants import SAMPLE_RATE
from listening import peak_frequency, rms, spectral_centroid

PIANO = MODAL_PIANOS[0]


def cents(got, want):
    return 1200 * np.log2(got / want)


@pytest.mark.parametrize("piano", MODAL_PIANOS, ids=lambda p: p.name)
@pytest.mark.parametrize("pitch, k", [(33, 6), (60, 6), (84, 3)])
def test_a_note_sounds_its_pitch_and_its_upper_partials_lie_sharp_as_on_stiff_strings(piano, pitch, k):
    """The fundamental on the key's pitch and the k-th partial where the model puts it, above k times the
    fundamental by the drawn inharmonicity: each within the spread of the key's unison strings."""
    audio = piano.voicing.note(pitch, 100, seed=piano.seed)[int(0.05 * SAMPLE_RATE):int(1.05 * SAMPLE_RATE)]
    f0 = float(midi_to_hz(pitch))
    spread = 3 + 2 * piano.voicing.detune_cents
    assert abs(cents(peak_frequency(audio, f0), f0)) < spread
    _, partials = piano.voicing.partials(pitch)
    partial = peak_frequency(audio, partials[k - 1], cents=20)
    assert abs(cents(partial, partials[k - 1])) < spread
    stretch = cents(partial, k * f0)
    stiffness = piano.voicing.inharmonicity_at(pitch)
    assert stretch == pytest.approx(600 * np.log2((1 + stiffness * k * k) / (1 + stiffness)), abs=spread)
    assert stretch > 2


@pytest.mark.parametrize("piano", MODAL_PIANOS, ids=lambda p: p.name)
@pytest.mark.parametrize("pitch", [36, 60, 84])
def test_harder_blows_sound_louder_and_brighter(piano, pitch):
    notes = [piano.voicing.note(pitch, velocity, seed=1) for velocity in (16, 48, 80, 112)]
    levels = [rms(note, 0.0, 0.3) for note in notes]
    centroids = [spectral_centroid(note[int(0.02 * SAMPLE_RATE):int(0.3 * SAMPLE_RATE)]) for note in notes]
    assert all(b > 1.5 * a for a, b in zip(levels, levels[1:])), levels
    assert all(b > a for a, b in zip(centroids, centroids[1:])), centroids
    assert centroids[-1] > 1.2 * centroids[0], centroids


def test_low_keys_sound_longer_and_high_partials_die_sooner():
    def lasts(note):
        """Seconds until the level falls 40 dB below its first 0.1 s."""
        levels = np.array([rms(note, t, t + 0.1) for t in np.arange(0, len(note) / SAMPLE_RATE - 0.1, 0.1)])
        return 0.1 * int(np.argmax(levels < levels[0] / 100)) if (levels < levels[0] / 100).any() else len(note)
    times = [lasts(PIANO.voicing.note(pitch, 90, seed=1)) for pitch in (48, 72, 96)]
    assert times[0] > times[1] > times[2] > 0.2, times
    # In the aftersound, a partial near 3 kHz dies faster than the second: (dB per second, fitted).
    note = PIANO.voicing.note(48, 90, seed=1)
    _, partials = PIANO.voicing.partials(48)
    high = int(np.argmin(np.abs(partials - 3000)))
    starts = np.arange(1.0, 4.0, 0.25)

    def slope(frequency):
        levels = []
        for start in starts:
            part = note[int(start * SAMPLE_RATE):int((start + 0.25) * SAMPLE_RATE)]
            spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part)), 1 << 16))
            frequencies = np.fft.rfftfreq(1 << 16, 1 / SAMPLE_RATE)
            levels.append(20 * np.log10(spectrum[np.abs(frequencies - frequency) < 20].max()))
        return -np.polyfit(starts, levels, 1)[0]
    assert slope(partials[high]) > 1.5 * slope(partials[1]) > 0, (slope(partials[1]), slope(partials[high]))


def test_each_piano_is_its_own_and_the_same_seed_gives_the_same_note():
    first = [piano.voicing.note(60, 80, seed=piano.seed) for piano in MODAL_PIANOS]
    assert np.array_equal(first[0], MODAL_PIANOS[0].voicing.note(60, 80, seed=MODAL_PIANOS[0].seed))
    balances = [20 * np.log10(piano.voicing.amplitudes(45, 80)[:6] / piano.voicing.amplitudes(45, 80)[0])
                for piano in MODAL_PIANOS]
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.mean(np.abs(balances[a] - balances[b])) > 2, (a, b, balances)


@pytest.fixture(scope="module")
def small_piano(tmp_path_factory):
    """modal-1 with three keys only, synthesised into a fresh cache."""
    piano = replace(PIANO, keys=(57, 60, 63))
    return piano, piano.fetch(str(tmp_path_factory.mktemp("modal")), log=lambda *_: None)


def test_the_sample_player_plays_a_modal_piano_on_every_key_between_its_notes(small_piano):
    piano, cache = small_piano
    player = SamplePlayer(piano, cache)
    for pitch in (58, 61, 62):
        audio = player.render(Performance(np.array([[0.0, 1.0, pitch, 80.0]]), np.zeros((0, 2)), 1.0))
        f0 = float(midi_to_hz(pitch))
        assert abs(cents(peak_frequency(audio[int(0.05 * SAMPLE_RATE):], f0), f0)) < 5, pitch
    soft, loud = (player.render(Performance(np.array([[0.0, 1.0, 60, v]]), np.zeros((0, 2)), 1.0)) for v in (20, 120))
    assert rms(loud, 0, 0.3) > 10 * rms(soft, 0, 0.3)
    assert spectral_centroid(loud[:4800] / np.abs(loud).max()) > spectral_centroid(soft[:4800] / np.abs(soft).max())


def test_the_notes_are_synthesised_once_and_a_damaged_one_is_made_again(small_piano, tmp_path):
    piano, cache = small_piano
    stamp = json.load(open(piano.stamp_path(cache)))
    assert stamp["seed"] == piano.seed and len(stamp["files"]) == 3 * piano.layers
    said = []
    assert piano.fetch(cache, log=said.append) == cache and not said
    copy = tmp_path / "copy"
    os.makedirs(copy / "audio")
    os.makedirs(copy / "stamps")
    for name in stamp["files"]:
        (copy / "audio" / name).write_bytes(open(os.path.join(cache, "audio", name), "rb").read())
    (copy / "stamps" / "notes.json").write_text(json.dumps(stamp))
    note = piano.sample_path(60, 2, str(copy))
    first = soundfile.read(note)[0]
    with open(note, "r+b") as f:
        f.seek(3000)
        f.write(b"\0" * 64)
    piano.fetch(str(copy), log=said.append)
    assert said and np.array_equal(soundfile.read(note)[0], first)
    assert not replace(piano, seed=9).intact(cache)
