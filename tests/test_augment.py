"""hw/augment.py on real audio of the tiny set: the equaliser applies the gain curve it drew, keeps the notes'
timing, differs from crop to crop and repeats under the same seed."""
import numpy as np
import torch

from augment import random_equalizer, random_gains_db
from constants import EQ_BUMP_DB, EQ_BUMPS, EQ_TILT_DB, MEL_FMIN, SAMPLE_RATE
from dataset import MAESTRO_small


def crops(tiny_data, count=4, samples=81920):
    dataset = MAESTRO_small(tiny_data, groups=["train"], sequence_length=samples, seed=3, random_sample=True)
    return torch.stack([dataset[i % len(dataset)]["audio"].float() for i in range(count)])


def band_levels_db(audio, edges):
    """Energy in dB of each band between consecutive `edges` (Hz), per crop."""
    power = torch.fft.rfft(audio.double(), dim=-1).abs() ** 2
    frequencies = torch.fft.rfftfreq(audio.shape[-1], 1.0 / SAMPLE_RATE)
    return torch.stack([10 * torch.log10(power[:, (frequencies >= lo) & (frequencies < hi)].sum(-1))
                        for lo, hi in zip(edges[:-1], edges[1:])], -1)


def test_the_equaliser_applies_the_curve_it_drew(tiny_data):
    audio = crops(tiny_data)
    out = random_equalizer(audio, torch.Generator().manual_seed(7))
    frequencies = torch.fft.rfftfreq(audio.shape[-1], 1.0 / SAMPLE_RATE)
    gains = random_gains_db(frequencies, len(audio), torch.Generator().manual_seed(7))
    # Narrow bands over the piano's range: the level change is the curve's gain at the band's centre.
    edges = [55 * 2 ** (k / 6) for k in range(0, 37, 2)]          # third-octave bands, 55 Hz to 3.5 kHz
    change = band_levels_db(out, edges) - band_levels_db(audio, edges)
    centres = [np.sqrt(lo * hi) for lo, hi in zip(edges[:-1], edges[1:])]
    expected = torch.stack([gains[:, int(round(c * audio.shape[-1] / SAMPLE_RATE))] for c in centres], -1)
    assert (change - expected).abs().max() < 0.6, (change - expected)
    assert expected.abs().max() > 3                      # the curves are not flat
    # Every curve stays within its bounds, and the crops get different ones.
    octaves = np.log2(np.clip(frequencies.numpy(), MEL_FMIN, None) / 1000)
    bound = EQ_TILT_DB * np.abs(octaves) + EQ_BUMPS * EQ_BUMP_DB
    assert (gains.abs().numpy() <= bound + 1e-6).all()
    assert min((gains[i] - gains[j]).abs().max() for i in range(4) for j in range(i)) > 1


def test_the_notes_keep_their_timing_and_the_seed_repeats(tiny_data):
    audio = crops(tiny_data, count=2)
    out = random_equalizer(audio, torch.Generator().manual_seed(1))
    assert out.shape == audio.shape and out.dtype == audio.dtype
    assert torch.equal(out, random_equalizer(audio, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, random_equalizer(audio, torch.Generator().manual_seed(2)))
    # The loudness envelope (64 ms frames) rises and falls where the input's does: a filter, no echo or shift.
    def envelope(x):
        frames = x[:, : x.shape[-1] // 1024 * 1024].reshape(len(x), -1, 1024)
        return 10 * torch.log10((frames.double() ** 2).mean(-1) + 1e-12)
    for before, after in zip(envelope(audio), envelope(out)):
        rise_before, rise_after = np.diff(before.numpy()), np.diff(after.numpy())
        assert np.corrcoef(rise_before, rise_after)[0, 1] > 0.9
