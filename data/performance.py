"""Turn a quantised score into a performance, the way a pianist would play it.

Scores have flat velocities, exact timing and no pedal; MAESTRO performances have none of that. This
module adds, all drawn from one seeded generator:
- a tempo curve: phrase-level rubato, a slower final cadence, and held fermatas;
- dynamics: a phrase-level level that wanders between pp and ff, arcs within each phrase, a louder
  melody and bass than inner voices, metric accents and note-level noise;
- timing: onset noise, the melody leading its chord slightly, and occasional rolled chords;
- articulation: legato or detached phrases and offset noise;
- sustain pedal (CC64): changed at harmony changes (bass notes) or once a bar, with some phrases dry.
"""
from dataclasses import dataclass, replace

import numpy as np

GRID = 1 / 48                 # tempo-curve resolution, in quarter notes
MIN_DURATION = 0.03           # seconds; a shorter key press is not a played note
PEDAL_DOWN, PEDAL_UP = 127, 0


@dataclass
class Performance:
    notes: np.ndarray         # rows: onset (s), offset (s), pitch, velocity
    pedal: np.ndarray         # rows: time (s), CC64 value
    duration: float           # seconds, including the release tail


def smooth_noise(rng, n, knots_every, scale):
    """Random values at knots, joined by cosine interpolation: a slowly varying curve of n points."""
    n_knots = n // knots_every + 2
    knots = rng.normal(0, scale, n_knots)
    position = np.arange(n) / knots_every
    i = position.astype(int)
    w = (1 - np.cos(np.pi * (position - i))) / 2
    return knots[i] * (1 - w) + knots[i + 1] * w


def tempo_map(rng, score, length):
    """Seconds at each grid point of the score: the integral of 1 / tempo along the score."""
    n = int(np.ceil(length / GRID)) + 2
    beats = np.arange(n) * GRID
    phrase = max(1, int(2 * score.bar_length / GRID))
    tempo = score.tempo * (1 + smooth_noise(rng, n, phrase, rng.uniform(0.03, 0.10)))
    ending = np.clip((beats - (length - 2 * score.bar_length)) / (2 * score.bar_length), 0, 1)
    tempo *= 1 - 0.35 * ending                                  # ritardando over the last two bars
    for fermata in score.fermatas:
        tempo[(beats >= fermata) & (beats < fermata + 1)] *= 0.45
    seconds = np.concatenate([[0], np.cumsum(GRID * 60 / tempo)[:-1]])
    return beats, seconds


def velocities(rng, score, starts):
    notes = score.notes
    phrase_length = 2 * score.bar_length
    phrase = (starts // phrase_length).astype(int)
    n_phrases = phrase.max() + 1
    base = rng.uniform(45, 85)
    level = np.clip(base + np.cumsum(rng.normal(0, 11, n_phrases)), 12, 120)   # ppp .. fff, wandering
    arc = np.sin(np.pi * (starts % phrase_length) / phrase_length) * rng.uniform(0, 12)
    accent = np.where(np.isclose(starts % score.bar_length, 0), 5.0, 0.0)
    # Voice role from pitch rank among the notes struck together: melody on top, bass below.
    role = np.zeros(len(notes))
    onset_keys = np.round(starts * 48).astype(int)
    for key in np.unique(onset_keys):
        idx = np.flatnonzero(onset_keys == key)
        if len(idx) > 1:
            pitches = notes[idx, 0]
            role[idx] = -6.0
            role[idx[np.argmax(pitches)]] = 8.0
            role[idx[np.argmin(pitches)]] = 3.0
    velocity = level[phrase] + arc + accent + role + rng.normal(0, 5, len(notes))
    return np.clip(np.round(velocity), 5, 127)


def pedal_changes(rng, score, starts, to_seconds, end):
    """CC64 events: a change at every harmony change, or once a bar; some phrases stay dry."""
    style = rng.choice(["harmonic", "bar", "none"], p=[0.5, 0.3, 0.2])
    if style == "none":
        return np.zeros((0, 2))
    if style == "bar":
        changes = np.arange(0, score.length, score.bar_length)
    else:   # a new bass note on a beat: the harmony changes
        lowest = {}
        for pitch, start in zip(score.notes[:, 0], starts):
            beat = round(start, 3)
            lowest[beat] = min(lowest.get(beat, 128), pitch)
        beats = sorted(b for b in lowest if np.isclose(b % 1, 0))
        changes = [b for i, b in enumerate(beats) if i == 0 or lowest[b] != lowest[beats[i - 1]]]
    dry_phrases = set(np.flatnonzero(rng.random(int(score.length // (2 * score.bar_length)) + 2) < 0.2))
    events = []
    for change in changes:
        t = float(to_seconds(change))
        events.append((t + rng.uniform(0.01, 0.05), PEDAL_UP))     # lift just after the new harmony sounds
        if int(change // (2 * score.bar_length)) not in dry_phrases:
            events.append((t + rng.uniform(0.08, 0.2), PEDAL_DOWN))   # and catch it again
    events.append((end, PEDAL_UP))
    return np.array(events)


def perform(score, rng, max_seconds=None):
    """A Performance of the score; with max_seconds, the score is cut at a bar line to fit."""
    length = score.length
    beats, seconds = tempo_map(rng, score, length)
    if max_seconds and seconds[-1] > max_seconds:
        last_bar = np.floor(np.interp(max_seconds, seconds, beats) / score.bar_length) * score.bar_length
        kept = score.notes[score.notes[:, 1] < max(last_bar, score.bar_length)].copy()
        kept[:, 2] = np.minimum(kept[:, 2], last_bar - kept[:, 1]).clip(min=GRID)
        score = replace(score, notes=kept)
        length = score.length
    notes = score.notes

    def to_seconds(q):
        return np.interp(q, beats, seconds)

    starts, ends = notes[:, 1], notes[:, 1] + notes[:, 2]
    onset = to_seconds(starts)
    legato = np.where(rng.random(int(length // score.bar_length) + 2) < 0.25, rng.uniform(0.55, 0.8), 0.98)
    offset = onset + (to_seconds(ends) - onset) * legato[(starts // score.bar_length).astype(int)]

    velocity = velocities(rng, score, starts)
    onset += rng.normal(0, 0.008, len(notes))
    # Chords: the melody leads by a few milliseconds, and some big chords are rolled from the bottom up.
    onset_keys = np.round(starts * 48).astype(int)
    for key in np.unique(onset_keys):
        idx = np.flatnonzero(onset_keys == key)
        if len(idx) < 2:
            continue
        by_pitch = idx[np.argsort(notes[idx, 0])]
        onset[by_pitch[-1]] -= rng.uniform(0.0, 0.02)
        if len(idx) >= 4 and rng.random() < 0.12:
            onset[by_pitch] = onset[by_pitch].min() + np.arange(len(idx)) * rng.uniform(0.015, 0.035)
    offset += rng.normal(0, 0.015, len(notes))
    lead = 0.5 - onset.min()                                     # half a second of silence first
    onset, offset = onset + lead, np.maximum(offset + lead, onset + lead + MIN_DURATION)

    table = np.stack([onset, offset, notes[:, 0], velocity], axis=1)
    table = one_key_one_note(table[np.lexsort((table[:, 2], table[:, 0]))])
    end = float(table[:, 1].max())
    pedal = pedal_changes(rng, score, starts, lambda q: to_seconds(q) + lead, end)
    return Performance(table, pedal, end + 1.5)


def one_key_one_note(table):
    """A piano key plays one note at a time: cut a note where its key is struck again, merge doubles.

    Rows must be sorted by onset. Two voices in unison struck together are one strike on one key.
    """
    keep = np.ones(len(table), bool)
    for pitch in np.unique(table[:, 2]):
        idx = np.flatnonzero(table[:, 2] == pitch)
        current = idx[0]
        for later in idx[1:]:
            if table[later, 0] - table[current, 0] < MIN_DURATION:
                keep[later] = False
                table[current, 1] = max(table[current, 1], table[later, 1])
            else:
                table[current, 1] = min(table[current, 1], table[later, 0])
                current = later
    return table[keep]
