"""What the sound tests measure in rendered audio: level, brightness, pitch."""
import numpy as np

from hw.constants import SAMPLE_RATE


def rms(audio, start, end):
    part = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(part.astype(np.float64) ** 2)))


def spectral_centroid(audio):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    frequencies = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    return float(np.sum(frequencies * spectrum) / np.sum(spectrum))


def fundamental(audio, low=40.0, high=2000.0):
    """The fundamental frequency by autocorrelation, refined by parabolic interpolation."""
    audio = audio - audio.mean()
    correlation = np.fft.irfft(np.abs(np.fft.rfft(audio, 2 * len(audio))) ** 2)[:len(audio)]
    lags = np.arange(int(SAMPLE_RATE / high), int(SAMPLE_RATE / low))
    lag = lags[np.argmax(correlation[lags])]
    a, b, c = correlation[lag - 1:lag + 2]
    return SAMPLE_RATE / (lag + 0.5 * (a - c) / (a - 2 * b + c))


def peak_frequency(audio, near, cents=60):
    """The frequency of the strongest spectral peak within `cents` of `near` (Hz): a long zero-padded,
    windowed spectrum, refined by parabolic interpolation of the log magnitude."""
    size = 1 << int(np.ceil(np.log2(16 * len(audio))))
    spectrum = np.log(np.abs(np.fft.rfft(audio * np.hanning(len(audio)), size)) + 1e-12)
    frequencies = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    band = np.nonzero(np.abs(1200 * np.log2(np.maximum(frequencies, 1e-3) / near)) < cents)[0]
    i = band[np.argmax(spectrum[band])]
    a, b, c = spectrum[i - 1:i + 2]
    return float(frequencies[i] + 0.5 * (a - c) / (a - 2 * b + c) * (frequencies[1] - frequencies[0]))
