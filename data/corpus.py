"""Real compositions from the music21 corpus (installed with pip), played as piano music.

Four pools: Bach chorales (grouped four to a piece, like a recital track), chamber movements (string
quartets and trios), vocal polyphony (madrigals, chansons) and keyboard or song pieces. Each work is one
composition: the builder gives it to one split only, so test titles never occur in training.
"""
import re
import warnings
from dataclasses import dataclass

import numpy as np

from .score import Score

CHORALES_PER_PIECE = 4
COMPOSERS = {
    "bach": "Johann Sebastian Bach", "mozart": "Wolfgang Amadeus Mozart", "haydn": "Joseph Haydn",
    "beethoven": "Ludwig van Beethoven", "schumann_robert": "Robert Schumann",
    "schumann_clara": "Clara Schumann", "monteverdi": "Claudio Monteverdi", "josquin": "Josquin des Prez",
    "joplin": "Scott Joplin", "schoenberg": "Arnold Schoenberg", "cpebach": "Carl Philipp Emanuel Bach",
    "chopin": "Frederic Chopin", "handel": "George Frideric Handel", "verdi": "Giuseppe Verdi",
    "corelli": "Arcangelo Corelli", "weber": "Carl Maria von Weber",
}
# Tempo (quarter notes per minute) when the file gives none: a typical performance tempo for the style.
DEFAULT_TEMPO = {"chorales": 72, "chamber": 100, "vocal": 84, "keyboard": 96}
CHAMBER = ["mozart/k155", "mozart/k156", "mozart/k458", "mozart/k80", "haydn/opus1no1", "haydn/opus74no1",
           "beethoven/opus18no1", "beethoven/opus59no1", "beethoven/opus59no2", "beethoven/opus59no3",
           "schumann_robert/opus41no1", "corelli/opus3no1", "weber/concertino_clarinet"]
KEYBOARD = ["joplin/", "mozart/k545", "schumann_clara/", "schoenberg/", "cpebach/", "chopin/", "handel/",
            "verdi/", "schumann_robert/dichterliebe", "schumann_robert/opus48"]


@dataclass(frozen=True)
class Work:
    pool: str        # chorales, chamber, vocal or keyboard
    paths: tuple     # music21 corpus paths, several for a chorale set
    title: str
    composer: str


def corpus_paths(composer):
    from music21 import corpus
    return sorted(str(p).split("corpus/")[-1] for p in corpus.getComposer(composer))


TITLE_RULES = [
    (r"opus(\d+)no(\d+)", r"Op. \1 No. \2"), (r"op(\d+)n(\d+)", r"Op. \1 No. \2"), (r"opus(\d+)", r"Op. \1"),
    (r"^k(\d+)", r"K. \1"), (r"/movement(\d+)", r", movement \1"), (r"madrigal\.(\d+)\.(\d+)", r"Madrigal, book \1 no. \2"),
    (r"mazurka0?(\d+)-(\d+)", r"Mazurka Op. \1 No. \2"), (r"no(\d+)$", r" no. \1"), (r"^h(\d+)", r"H. \1"),
    (r"[_/]", " "),
]


def movement_title(path):
    """A readable title from a corpus path: "mozart/k458/movement1.mxl" -> "String quartet K. 458, movement 1"."""
    name = path.split("/", 1)[1].rsplit(".", 1)[0]
    for pattern, replacement in TITLE_RULES:
        name = re.sub(pattern, replacement, name)
    if any(path.startswith(c) for c in CHAMBER[:11]):
        name = "String quartet " + name
    return name[0].upper() + name[1:]


def catalogue():
    """Every work, by pool, in a fixed order."""
    pools = {"chorales": [], "chamber": [], "vocal": [], "keyboard": []}
    chorales = [p for p in corpus_paths("bach") if p.startswith("bach/bwv") and p.endswith(".mxl")]
    for i in range(0, len(chorales) - CHORALES_PER_PIECE + 1, CHORALES_PER_PIECE):
        group = tuple(chorales[i:i + CHORALES_PER_PIECE])
        numbers = ", ".join(p[len("bach/bwv"):-len(".mxl")] for p in group)
        pools["chorales"].append(Work("chorales", group, f"Chorales BWV {numbers}", COMPOSERS["bach"]))
    all_paths = [p for c in COMPOSERS if c != "bach" for p in corpus_paths(c)]
    for path in all_paths:
        # A movement stored both as Humdrum and MusicXML is one composition: keep the MusicXML.
        if not path.endswith((".mxl", ".xml", ".krn", ".abc")) or path.endswith(".krn") and path[:-4] + ".mxl" in all_paths:
            continue
        composer = path.split("/")[0]
        pool = ("keyboard" if any(path.startswith(k) for k in KEYBOARD) else
                "chamber" if any(path.startswith(c) for c in CHAMBER) else
                "vocal" if composer in ("monteverdi", "josquin") else None)
        if pool:
            pools[pool].append(Work(pool, (path,), movement_title(path), COMPOSERS[composer]))
    return pools


def score_notes(path):
    """Notes of one corpus file as rows (pitch, start, duration) in quarter notes, ties merged."""
    from music21 import corpus, expressions, meter, tempo

    with warnings.catch_warnings():           # music21 reports overfull bars of some files; harmless here
        warnings.simplefilter("ignore")
        parsed = corpus.parse(path)
    rows, fermatas = [], []
    for part in parsed.parts if hasattr(parsed, "parts") and len(parsed.parts) else [parsed]:
        open_ties = {}
        for element in part.flatten().notes:
            start = float(element.offset)
            duration = float(element.quarterLength) or 0.125       # grace notes get a short length
            if any(isinstance(e, expressions.Fermata) for e in element.expressions):
                fermatas.append(start)
            for pitch in element.pitches:
                tie = (element.tie.type if element.tie is not None else None)
                if tie in ("stop", "continue") and pitch.midi in open_ties:
                    rows[open_ties[pitch.midi]][2] = start + duration - rows[open_ties[pitch.midi]][1]
                    if tie == "stop":
                        del open_ties[pitch.midi]
                    continue
                rows.append([pitch.midi, start, duration])
                if tie == "start":
                    open_ties[pitch.midi] = len(rows) - 1
    flat = parsed.flatten()
    signatures = list(flat.getElementsByClass(meter.TimeSignature))
    marks = list(flat.getElementsByClass(tempo.MetronomeMark))
    bar_length = float(signatures[0].barDuration.quarterLength) if signatures else 4.0
    qpm = float(marks[0].getQuarterBPM()) if marks and marks[0].number else None
    return np.array(rows, dtype=np.float64).reshape(-1, 3), bar_length, qpm, sorted(set(fermatas))


def load(work):
    """The Score of a work; a chorale set is its chorales one after another with a bar's rest between."""
    parts, fermatas, offset = [], [], 0.0
    bar_length, qpm = 4.0, None
    for path in work.paths:
        notes, bar_length, file_qpm, file_fermatas = score_notes(path)
        qpm = qpm or file_qpm
        notes[:, 1] += offset
        parts.append(notes)
        fermatas += [offset + f for f in file_fermatas]
        offset = float((notes[:, 1] + notes[:, 2]).max()) + bar_length
    tempo = qpm if qpm and 40 <= qpm <= 200 else DEFAULT_TEMPO[work.pool]
    source = "music21:" + "+".join(work.paths)
    return Score(work.title, work.composer, source, np.concatenate(parts), bar_length, tempo, fermatas)
