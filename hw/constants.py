"""Every constant of the homework in one place (values from the 2020 GCT634 homework)."""
import os

SAMPLE_RATE = 16000          # Hz, mono
HOP_SIZE = 512               # samples between frames: 31.25 frames per second
N_FFT = 2048                 # STFT window length
N_MELS = 229
MEL_FMIN = 30                # Hz
MEL_FMAX = 8000              # Hz

MIN_MIDI = 21                # A0, the lowest piano key
MAX_MIDI = 108               # C8, the highest piano key
N_KEYS = MAX_MIDI - MIN_MIDI + 1

ONSET_THRESHOLD = 0.5        # a note starts where its onset probability passes this (the homework scores at 0.5)
FRAME_THRESHOLD = 0.5        # and lasts while its frame probability stays above this
# What `evaluate.py --sweep` tries; down to 0.01, where a briefly trained model's onsets often lie.
ONSET_SWEEP = (0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
FRAME_SWEEP = (0.3, 0.4, 0.5, 0.6)
# and, below the onset threshold chosen, for a weak onset that starts a note as its key's frame switches on.
WEAK_ONSET_SWEEP = (None, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)

# train.py --augment: each training crop through a random equaliser (augment.py).
EQ_TILT_DB = 2.0             # at most this many dB per octave of tilt around 1 kHz (10 dB at 30 Hz)
EQ_BUMPS = 3                 # bell-shaped bumps or dips in the gain curve
EQ_BUMP_DB = 6.0             # each at most this high or deep
# train.py --detune: each training crop played sharper or flatter (augment.py).
DETUNE_CENTS = 35.0          # at most this many cents (a semitone is 100; mir_eval allows 50)
# train.py --noise: background noise under a share of the training crops (augment.py).
NOISE_SHARE = 0.5            # of the crops; the others stay clean, as most recordings are
NOISE_SNR_DB = (10.0, 40.0)  # the crop's level over the noise's, drawn in this range (a phone in a busy room: 20)
NOISE_SLOPE = (0.0, 2.0)     # noise power falls as 1 / frequency ** slope: 0 hiss, 1 pink room tone, 2 rumble

# train.py --amp: mixed precision for training steps (on: bf16 where there is bf16, else fp16; auto: on with CUDA).
AMP_MODES = ("auto", "on", "off")

SEQUENCE_LENGTH = 102400     # samples in a training crop: 6.4 s, 200 frames
FRAMES_PER_SECOND = SAMPLE_RATE / HOP_SIZE

# The data set `make data` builds; pass --data_path to train on another one (e.g. real MAESTRO).
DEFAULT_DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "default")
