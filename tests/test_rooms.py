"""Rooms and recording chains (data/rooms.py) on real rendered audio: reverberation time, alignment with
the labels, the chain's filters and level, the lossy round trip, determinism."""
import numpy as np
import pyroomacoustics as pra
import pytest

from data.performance import Performance
from data.render import PIANOS, Renderer
from data.rooms import FAMILIES, Room, impulse_responses, record
from hw.constants import SAMPLE_RATE


@pytest.fixture(scope="module")
def dry():
    notes = [[0.5, 1.0, 60, 90], [1.5, 2.2, 72, 100], [2.5, 3.0, 43, 70], [3.2, 3.6, 84, 110]]
    return Renderer().dry(Performance(np.array(notes, dtype=float), np.zeros((0, 2)), 5.0), PIANOS["salamander"])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_measured_reverberation_time_is_the_drawn_one(family):
    low, high = FAMILIES[family]["rt60"]
    for seed in range(3):
        room = Room.draw(np.random.default_rng(seed), family)
        assert low <= room.rt60 <= high
        for response in impulse_responses(room):
            measured = pra.experimental.measure_rt60(response, fs=SAMPLE_RATE, decay_db=30)
            assert abs(measured - room.rt60) <= 0.2 * room.rt60, (family, seed, room.rt60, measured)
            # The direct sound comes first, at the start: labels stay aligned with the audio.
            assert np.argmax(np.abs(response) > 0.3 * np.abs(response).max()) < SAMPLE_RATE * 0.002


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("lossy", ["", "mp3", "vorbis"])
def test_every_family_and_codec_keeps_the_note_where_its_label_is(family, lossy):
    one_note = Renderer().dry(Performance(np.array([[0.5, 1.0, 67, 100]]), np.zeros((0, 2)), 2.0), PIANOS["salamander"])
    room = Room(**{**Room.draw(np.random.default_rng(4), family).__dict__, "lossy": lossy,
                   "quality": 0.6 if lossy else 0.0})
    audio = record(one_note, room, np.random.default_rng(0)).astype(float)
    assert len(audio) == len(one_note)
    assert abs(20 * np.log10(np.abs(audio).max() / 32767) - room.peak_dbfs) < (3 if lossy else 0.1)
    start = np.argmax(np.abs(audio) > 0.2 * np.abs(audio).max()) / SAMPLE_RATE
    assert 0.5 - 0.005 <= start <= 0.5 + 0.015, f"the note sounds at {start:.3f} s, its label says 0.500 s"


def test_the_phone_chain_cuts_the_bass_and_dulls_the_highs(dry):
    def band_share(audio, low, high):
        spectrum = np.abs(np.fft.rfft(audio.astype(float))) ** 2
        frequencies = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
        return spectrum[(frequencies >= low) & (frequencies < high)].sum() / spectrum.sum()
    quiet = {"lossy": "", "snr_db": 120.0}             # the filters alone, no background noise
    studio = Room(**{**Room.draw(np.random.default_rng(1), "studio").__dict__, **quiet})
    phone = Room(**{**Room.draw(np.random.default_rng(1), "phone").__dict__, **quiet})
    studio_audio, phone_audio = (record(dry, r, np.random.default_rng(0)) for r in (studio, phone))
    assert band_share(phone_audio, 0, 120) < 0.3 * band_share(studio_audio, 0, 120)
    def highs_against_mids(audio):
        return band_share(audio, 4000, 8000) / band_share(audio, 1000, 2000)
    assert highs_against_mids(phone_audio) < 0.5 * highs_against_mids(studio_audio)      # over 3 dB duller


def test_the_same_draw_records_the_same_bytes(dry):
    room = Room.draw(np.random.default_rng(7), "hall", lossy_share=1.0)
    first, second = (record(dry, room, np.random.default_rng(3)) for _ in range(2))
    assert np.array_equal(first, second)
    assert room == Room.draw(np.random.default_rng(7), "hall", lossy_share=1.0)
