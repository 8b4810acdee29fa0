"""Models for piano transcription: each maps audio (B x samples) to frame and onset logits (B x T x 88).

Q1-Q3 ask you to complete Transcriber_RNN, Transcriber_CRNN and Transcriber_ONF. Their docstrings give
the layers and the attribute names the grader looks for; the CNN baseline `Transcriber` is complete and
shows the pattern. Every model returns logits (no sigmoid): the loss applies the sigmoid itself.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from constants import HOP_SIZE, MEL_FMAX, MEL_FMIN, N_FFT, N_KEYS, N_MELS, SAMPLE_RATE

LSTM_UNITS = 88       # hidden units per direction of every LSTM in Q1-Q3


def mel_filterbank(n_freqs, f_min, f_max, n_mels, sample_rate):
    """Triangular filters spaced evenly on the HTK mel scale, as an n_freqs x n_mels matrix.

    Filter m rises from centre m-1 to centre m and falls to centre m+1 (peak 1, no area normalisation),
    the bank the 2020 homework used through torchaudio's MelSpectrogram(mel_scale="htk").
    """
    def hz_to_mel(hz):
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mels = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    centres = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)           # n_mels + 2 edges in Hz
    freqs = torch.linspace(0, sample_rate // 2, n_freqs)         # the STFT bins in Hz
    widths = centres[1:] - centres[:-1]
    distance = centres.unsqueeze(0) - freqs.unsqueeze(1)         # n_freqs x (n_mels + 2)
    rising = -distance[:, :-2] / widths[:-1]
    falling = distance[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


class LogMelSpectrogram(nn.Module):
    """Log-mel spectrogram, B x samples -> B x T x N_MELS with T = samples // HOP_SIZE.

    Frame t is centred on the middle of samples [t * HOP_SIZE, (t + 1) * HOP_SIZE), the span its label
    covers: the signal is padded by (N_FFT - HOP_SIZE) / 2 on each side, not by N_FFT / 2 as a centred
    STFT would, which would shift every frame by half a hop and add one frame.
    """

    def __init__(self):
        super().__init__()
        # Constants, not weights: kept out of checkpoints (persistent=False) but moved with .to(device).
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.register_buffer("mel_basis", mel_filterbank(N_FFT // 2 + 1, MEL_FMIN, MEL_FMAX, N_MELS, SAMPLE_RATE),
                             persistent=False)

    def forward(self, audio):
        padding = (N_FFT - HOP_SIZE) // 2
        # Always in float32, also under mixed precision: spectrogram powers overflow float16.
        with torch.autocast(audio.device.type, enabled=False):
            audio = F.pad(audio.float(), (padding, padding))
            stft = torch.stft(audio, N_FFT, HOP_SIZE, window=self.window, center=False, return_complex=True)
            power = stft.abs().pow(2.0)                            # B x (N_FFT/2 + 1) x T
            mel = power.transpose(-1, -2) @ self.mel_basis         # B x T x N_MELS
            return torch.log(torch.clamp(mel, min=1e-9))


class ConvStack(nn.Module):
    """Acoustic model of the 2020 homework: three 3x3 convolutions over (time, mel), then a linear layer.

    B x T x n_mels -> B x T x fc_unit; pooling only along the mel axis keeps one output per frame.
    """

    def __init__(self, n_mels, cnn_unit, fc_unit):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, cnn_unit, (3, 3), padding=1), nn.BatchNorm2d(cnn_unit), nn.ReLU(),
            nn.Conv2d(cnn_unit, cnn_unit, (3, 3), padding=1), nn.BatchNorm2d(cnn_unit), nn.ReLU(),
            nn.MaxPool2d((1, 2)), nn.Dropout(0.25),
            nn.Conv2d(cnn_unit, cnn_unit * 2, (3, 3), padding=1), nn.BatchNorm2d(cnn_unit * 2), nn.ReLU(),
            nn.MaxPool2d((1, 2)), nn.Dropout(0.25),
        )
        self.fc = nn.Sequential(nn.Linear(cnn_unit * 2 * (n_mels // 4), fc_unit), nn.Dropout(0.5))

    def forward(self, mel):
        x = self.cnn(mel.unsqueeze(1))                         # B x C x T x n_mels/4
        x = x.transpose(1, 2).flatten(-2)                      # B x T x C * n_mels/4
        return self.fc(x)


class Transcriber(nn.Module):
    """The CNN baseline (given): a ConvStack and a linear layer for frames, another pair for onsets."""

    def __init__(self, cnn_unit, fc_unit):
        super().__init__()
        self.melspectrogram = LogMelSpectrogram()
        self.frame_conv_stack = ConvStack(N_MELS, cnn_unit, fc_unit)
        self.frame_fc = nn.Linear(fc_unit, N_KEYS)
        self.onset_conv_stack = ConvStack(N_MELS, cnn_unit, fc_unit)
        self.onset_fc = nn.Linear(fc_unit, N_KEYS)

    def forward(self, audio):
        mel = self.melspectrogram(audio)
        frame_logit = self.frame_fc(self.frame_conv_stack(mel))
        onset_logit = self.onset_fc(self.onset_conv_stack(mel))
        return frame_logit, onset_logit


class Transcriber_RNN(nn.Module):
    """Q1. Recurrent model: the log-mel spectrogram straight into LSTMs, one branch for frames, one for onsets.

    | attribute        | layer                                                                       |
    |------------------|-----------------------------------------------------------------------------|
    | melspectrogram   | LogMelSpectrogram()                                                         |
    | frame_lstm       | nn.LSTM(N_MELS, LSTM_UNITS, num_layers=2, batch_first=True, bidirectional=True) |
    | frame_fc         | nn.Linear(2 * LSTM_UNITS, N_KEYS)                                           |
    | onset_lstm       | same as frame_lstm                                                          |
    | onset_fc         | same as frame_fc                                                            |

    forward(audio): mel -> frame_lstm -> frame_fc gives frame_logit; mel -> onset_lstm -> onset_fc gives
    onset_logit; return (frame_logit, onset_logit), each B x T x 88. cnn_unit and fc_unit are unused.
    """

    def __init__(self, cnn_unit, fc_unit):
        super().__init__()
        self.melspectrogram = LogMelSpectrogram()
        raise NotImplementedError("Q1: build the layers of Transcriber_RNN (see its docstring)")

    def forward(self, audio):
        mel = self.melspectrogram(audio)
        raise NotImplementedError("Q1: write Transcriber_RNN.forward (see its docstring)")


class Transcriber_CRNN(nn.Module):
    """Q2. Convolutional-recurrent model: a ConvStack before each branch's LSTM.

    | attribute         | layer                                                                      |
    |-------------------|----------------------------------------------------------------------------|
    | melspectrogram    | LogMelSpectrogram()                                                        |
    | frame_conv_stack  | ConvStack(N_MELS, cnn_unit, fc_unit)                                       |
    | frame_lstm        | nn.LSTM(fc_unit, LSTM_UNITS, num_layers=2, batch_first=True, bidirectional=True) |
    | frame_fc          | nn.Linear(2 * LSTM_UNITS, N_KEYS)                                          |
    | onset_conv_stack, onset_lstm, onset_fc | the same for onsets                                   |

    forward(audio): mel -> frame_conv_stack -> frame_lstm -> frame_fc gives frame_logit, and the same
    through the onset layers gives onset_logit; return (frame_logit, onset_logit), each B x T x 88.
    """

    def __init__(self, cnn_unit, fc_unit):
        super().__init__()
        self.melspectrogram = LogMelSpectrogram()
        raise NotImplementedError("Q2: build the layers of Transcriber_CRNN (see its docstring)")

    def forward(self, audio):
        mel = self.melspectrogram(audio)
        raise NotImplementedError("Q2: write Transcriber_CRNN.forward (see its docstring)")


class Transcriber_ONF(nn.Module):
    """Q3. Onsets and Frames (Hawthorne et al., 2018), simplified: onset predictions steer the frame branch.

    | attribute         | layer                                                                      |
    |-------------------|----------------------------------------------------------------------------|
    | melspectrogram    | LogMelSpectrogram()                                                        |
    | onset_conv_stack  | ConvStack(N_MELS, cnn_unit, fc_unit)                                       |
    | onset_lstm        | nn.LSTM(fc_unit, LSTM_UNITS, num_layers=2, batch_first=True, bidirectional=True) |
    | onset_fc          | nn.Linear(2 * LSTM_UNITS, N_KEYS)                                          |
    | frame_conv_stack  | ConvStack(N_MELS, cnn_unit, fc_unit)                                       |
    | frame_fc          | nn.Linear(fc_unit, N_KEYS)                                                 |
    | combined_lstm     | nn.LSTM(2 * N_KEYS, LSTM_UNITS, num_layers=2, batch_first=True, bidirectional=True) |
    | combined_fc       | nn.Linear(2 * LSTM_UNITS, N_KEYS)                                          |

    forward(audio): onset_logit = onset_fc(onset_lstm(onset_conv_stack(mel))). The frame branch computes
    frame_fc(frame_conv_stack(mel)), concatenates sigmoid(frame branch) with sigmoid(onset_logit).detach()
    on the last axis (B x T x 176), and passes that through combined_lstm and combined_fc to get
    frame_logit. The detach stops the frame loss from training the onset branch. Return
    (frame_logit, onset_logit), each B x T x 88.

    detach_onsets=False leaves the detach out, for Q4's ablation (train.py --no_detach); the self-checks
    try both settings, and the grader builds the default.
    """

    def __init__(self, cnn_unit, fc_unit, detach_onsets=True):
        super().__init__()
        self.melspectrogram = LogMelSpectrogram()
        self.detach_onsets = detach_onsets
        raise NotImplementedError("Q3: build the layers of Transcriber_ONF (see its docstring)")

    def forward(self, audio):
        mel = self.melspectrogram(audio)
        raise NotImplementedError("Q3: write Transcriber_ONF.forward (see its docstring)")


MODELS = {"baseline": Transcriber, "rnn": Transcriber_RNN, "crnn": Transcriber_CRNN, "onf": Transcriber_ONF}
