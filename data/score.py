"""The one representation every score source produces: notes in quarter notes, before humanising."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Score:
    title: str
    composer: str
    source: str                  # where the notes came from, e.g. "music21:bach/bwv66.6" or "etude"
    notes: np.ndarray            # float array, one row per note: pitch, start, duration (quarter notes)
    bar_length: float            # quarter notes per bar
    tempo: float                 # quarter notes per minute, before rubato
    fermatas: list = field(default_factory=list)   # positions (quarter notes) to hold longer

    def __post_init__(self):
        notes = np.asarray(self.notes, dtype=np.float64).reshape(-1, 3)
        keep = (notes[:, 0] >= 21) & (notes[:, 0] <= 108) & (notes[:, 2] > 0)
        notes = notes[keep]
        self.notes = notes[np.lexsort((notes[:, 0], notes[:, 1]))]

    @property
    def length(self):
        """Length in quarter notes."""
        return float((self.notes[:, 1] + self.notes[:, 2]).max()) if len(self.notes) else 0.0

    def transposed(self, semitones):
        """The same score moved by some semitones, folding notes that leave the keyboard back by octaves."""
        notes = self.notes.copy()
        notes[:, 0] += semitones
        while (notes[:, 0] > 108).any() or (notes[:, 0] < 21).any():
            notes[notes[:, 0] > 108, 0] -= 12
            notes[notes[:, 0] < 21, 0] += 12
        return Score(self.title, self.composer, self.source, notes, self.bar_length, self.tempo, self.fermatas)
