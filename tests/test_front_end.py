"""The handout's log-mel front end (torch.stft and an HTK mel filterbank) against the 2020 homework's.

tests/fixtures/torchaudio_logmel.npz holds the 2020 front end's output on the signal `chirp_and_sine` makes:
torchaudio 2.11.0's MelSpectrogram(sample_rate=16000, n_fft=2048, hop_length=512, f_min=30, f_max=8000,
n_mels=229, power=2.0, mel_scale="htk", center=False, pad=768), then log(clamp(1e-9)), as B x T x mels.
torchaudio is no longer installed (its wheels need CUDA torch, about 5 GB), so the output is kept here.
"""
import os

import numpy as np
import torch

from constants import HOP_SIZE, MEL_FMAX, MEL_FMIN, N_MELS, SAMPLE_RATE
from model import LogMelSpectrogram, mel_filterbank

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torchaudio_logmel.npz")


def chirp_and_sine():
    """1.28 s: a 440 Hz sine, a rising chirp and a little noise (PCG64 keeps the noise fixed)."""
    t = np.arange(20480) / SAMPLE_RATE
    noise = np.random.default_rng(0).standard_normal(t.size)
    audio = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * (100 + 2000 * t) * t) + 0.05 * noise
    return torch.from_numpy(audio.astype(np.float32))[None]


def test_matches_the_2020_torchaudio_front_end():
    expected = np.load(FIXTURE)["logmel"]
    logmel = LogMelSpectrogram()(chirp_and_sine())[0].numpy()
    assert logmel.shape == expected.shape == (20480 // HOP_SIZE, N_MELS)
    np.testing.assert_allclose(logmel, expected, atol=1e-4)


def test_a_sine_peaks_in_the_band_centred_nearest_its_frequency():
    mels = np.linspace(2595 * np.log10(1 + MEL_FMIN / 700), 2595 * np.log10(1 + MEL_FMAX / 700), N_MELS + 2)
    centres = 700 * (10 ** (mels[1:-1] / 2595) - 1)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for hz in (110.0, 440.0, 1760.0, 5000.0):
        audio = torch.from_numpy(np.sin(2 * np.pi * hz * t).astype(np.float32))[None]
        band = LogMelSpectrogram()(audio)[0, 10:-10].mean(0).argmax().item()
        assert abs(band - np.abs(centres - hz).argmin()) <= 1, hz


def test_filterbank_triangles_peak_at_one_and_stay_in_range():
    bank = mel_filterbank(1025, MEL_FMIN, MEL_FMAX, N_MELS, SAMPLE_RATE)
    assert bank.shape == (1025, N_MELS)
    assert bank.min() >= 0 and bank.max() <= 1
    assert (bank.max(0).values > 0.5).all()            # every band sees at least one STFT bin
    freqs = torch.linspace(0, SAMPLE_RATE // 2, 1025)
    assert bank[freqs < MEL_FMIN].sum() == 0 and bank[freqs > MEL_FMAX].sum() == 0


def test_filter_constants_stay_out_of_checkpoints_but_follow_the_model():
    front_end = LogMelSpectrogram()
    assert list(front_end.state_dict()) == []
    assert front_end.to(torch.float64).mel_basis.dtype == torch.float64


def test_stays_in_float32_under_mixed_precision():
    # Under autocast the mel matmul would run in bf16/fp16, where spectrogram powers lose precision or overflow.
    audio = chirp_and_sine() * 30           # loud: powers far above float16's largest value
    plain = LogMelSpectrogram()(audio)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = LogMelSpectrogram()(audio)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)
