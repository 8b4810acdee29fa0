"""Build a MAESTRO-format data set offline: real scores and procedural études, performed and rendered.

The build is a fixed plan of pieces drawn from the seed. Every piece has its own random generator
(seed, piece index), so the result does not depend on how many processes render it or in which order.
A piece counts as built only when its record file exists, and that file is written last, after the
MIDI and FLAC files were renamed into place: an interrupted build continues where it stopped.
"""
import json
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace

import numpy as np
from tqdm import tqdm

from . import corpus, etudes
from .maestro_format import SPLITS, write_flac, write_metadata, write_midi
from .performance import perform
from .render import PIANOS, TRAINING_PIANOS, UNSEEN_PIANO, Renderer
from .rooms import FAMILIES, HELD_OUT_FAMILY, TRAINING_FAMILIES, Room
from .timbre import Timbre

BUILD_VERSION = 7             # 4: `large`'s sampled training pieces have drawn timbres (timbre.py);
                              # 5: their gains drawn over +-12 dB (was 8); 6: two freepats pianos join `large`;
                              # 7: three modal pianos (modal_piano.py) join `large`
TIMBRE_STREAM = 1              # the plan's second random generator, (seed, 1), draws the timbres
YEAR = 2026                    # the "year" field of every record: the year this kit's set was made


@dataclass(frozen=True)
class Size:
    pieces: dict               # split -> number of pieces
    max_seconds: float         # a longer performance is cut at a bar line
    mix: dict                  # source pool -> share of the pieces; "etudes" are procedural
    training_pianos: dict = None   # piano -> share of the training pieces (None: TRAINING_PIANOS)
    varied_timbres: float = 0.0    # share of the training pieces on a sampled piano given a drawn timbre


DEFAULT = Size({"train": 100, "validation": 20, "test": 50}, 200.0,
               {"etudes": 0.45, "chorales": 0.18, "chamber": 0.15, "vocal": 0.1, "keyboard": 0.12})
SIZES = {
    "tiny": Size({"train": 4, "validation": 2, "test": 2}, 12.0, {"etudes": 0.5, "chorales": 0.5}),
    "small": Size({"train": 20, "validation": 5, "test": 10}, 60.0,
                  {"etudes": 0.4, "chorales": 0.3, "chamber": 0.1, "vocal": 0.1, "keyboard": 0.1}),
    "default": DEFAULT,
    # default's validation and test pieces (the plan draws them first), five times its training pieces, on
    # nine pianos: for the pretrained transcriber, which outgrows 100 pieces and three pianos. The corpus
    # runs out, so études fill the rest.
    "large": replace(DEFAULT, pieces={**DEFAULT.pieces, "train": 5 * DEFAULT.pieces["train"]},
                     training_pianos={"salamander": 0.22, "vsco2": 0.17, "steinway": 0.13, "yamaha": 0.13,
                                      "freepats-grand": 0.1, "freepats-bright": 0.1,
                                      "modal-1": 0.05, "modal-2": 0.05, "modal-3": 0.05},
                     varied_timbres=0.75),
}


@dataclass(frozen=True)
class Piece:
    index: int
    split: str
    stem: str                  # file name without extension, inside the split's folder
    piano: str
    family: str                # of rooms and recording chains (rooms.py)
    etude_number: int = 0      # > 0 for a procedural étude
    work: corpus.Work = None   # otherwise a corpus work
    timbre: Timbre = None      # the sampled piano's partials varied (timbre.py), or as recorded


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


def share(mix, n):
    """Split n pieces between pools in proportion to mix (largest remainders)."""
    exact = {pool: fraction * n for pool, fraction in mix.items()}
    counts = {pool: int(v) for pool, v in exact.items()}
    for pool in sorted(exact, key=lambda p: exact[p] - counts[p], reverse=True)[: n - sum(counts.values())]:
        counts[pool] += 1
    return counts


def plan(size_name, seed):
    """The pieces of a build, in a fixed order. Each corpus work goes to one split only."""
    size = SIZES[size_name]
    rng = np.random.default_rng(seed)
    timbres = np.random.default_rng([seed, TIMBRE_STREAM])     # apart, so the other draws stay as they were
    catalogue = corpus.catalogue() if set(size.mix) - {"etudes"} else {}
    pools = {pool: [catalogue[pool][i] for i in rng.permutation(len(catalogue[pool]))] for pool in catalogue}
    pieces, etude_count = [], 0
    for split in ["test", "validation", "train"]:       # test first: its works are fixed by the seed alone
        chosen = []
        for pool, count in share(size.mix, size.pieces[split]).items():
            for _ in range(count):
                if pool != "etudes" and pools.get(pool):
                    chosen.append(pools[pool].pop())
                else:
                    etude_count += 1
                    chosen.append(etude_count)
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
        for i, item in enumerate(chosen):
            if split == "test":   # every piano and family, the unseen piano and the held-out family included
                piano = ([UNSEEN_PIANO] + list(TRAINING_PIANOS))[i % (len(TRAINING_PIANOS) + 1)]
                family = ([HELD_OUT_FAMILY] + TRAINING_FAMILIES)[(i // (len(TRAINING_PIANOS) + 1)) % len(FAMILIES)]
            else:
                shares = size.training_pianos if split == "train" and size.training_pianos else TRAINING_PIANOS
                piano = str(rng.choice(list(shares), p=list(shares.values())))
                family = TRAINING_FAMILIES[int(rng.integers(len(TRAINING_FAMILIES)))]
            timbre = None
            if split == "train" and PIANOS[piano].samples is not None and timbres.random() < size.varied_timbres:
                timbre = Timbre.draw(timbres)
            name = f"etude-{item:03d}" if isinstance(item, int) else slug(item.title)
            pieces.append(Piece(len(pieces), split, f"{i:03d}-{name}", piano, family,
                                etude_number=item if isinstance(item, int) else 0,
                                work=None if isinstance(item, int) else item, timbre=timbre))
    return pieces


_renderer = None       # one per build process: it keeps the samples and soundfonts loaded between pieces


def build_piece(job):
    """Perform, render and write one piece; returns its data.json record."""
    global _renderer
    piece, out, seed, max_seconds = job
    rng = np.random.default_rng([seed, piece.index])
    if piece.etude_number:
        score = etudes.etude(rng, piece.etude_number)
    else:
        score = corpus.load(piece.work)
        if piece.work.pool != "keyboard":           # not written for piano: any key suits it
            score = score.transposed(int(rng.integers(-5, 7)))
    performance = perform(score, rng, max_seconds=max_seconds)
    room = Room.draw(rng, piece.family)
    _renderer = _renderer or Renderer()
    audio = _renderer.render(performance, PIANOS[piece.piano], room, rng, piece.timbre)
    midi_filename = f"{piece.split}/{piece.stem}.midi"
    audio_filename = f"{piece.split}/{piece.stem}.flac"
    os.makedirs(os.path.join(out, piece.split), exist_ok=True)
    write_midi(os.path.join(out, midi_filename), performance.notes, performance.pedal)
    write_flac(os.path.join(out, audio_filename), audio)
    record = {
        "canonical_composer": score.composer, "canonical_title": score.title, "split": piece.split,
        "year": YEAR, "midi_filename": midi_filename, "audio_filename": audio_filename,
        "duration": round(len(audio) / 16000, 3),
        # Beyond MAESTRO's fields: what made this piece, for analysis (the loader ignores them).
        "piano": piece.piano, "source": score.source, "room": asdict(room),
    }
    if piece.timbre is not None:
        record["timbre"] = asdict(piece.timbre)
    write_json(record_path(out, piece), record)
    return record


def record_path(out, piece):
    return os.path.join(out, ".build", f"{piece.index:04d}.json")


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "w") as f:
        json.dump(value, f, indent=1)
    os.replace(path + ".part", path)


def build(size_name, out, seed=0, jobs=None):
    """Build (or finish building) a data set in `out`; returns the path of its data.json."""
    size = SIZES[size_name]
    settings = {"size": size_name, "seed": seed, "build_version": BUILD_VERSION}
    settings_path = os.path.join(out, ".build", "settings.json")
    if os.path.exists(settings_path):
        with open(settings_path) as f:
            previous = json.load(f)
        if previous != settings:
            raise SystemExit(f"error: {out} holds a build made with {previous}, not {settings}. "
                             "Choose another --out, or delete that folder to rebuild.")
    pieces = plan(size_name, seed)
    todo = [p for p in pieces if not os.path.exists(record_path(out, p))]
    # Every sampled piano's notes made ready here, once, before anything is written (each build process only
    # checks the cache when it loads them): npm's sets must be in their cache already (SamplesUnavailable names
    # the command that fetches them); the freepats notes are unrolled and the modal pianos' synthesised if not.
    for name in sorted({p.piano for p in todo}):
        if PIANOS[name].samples is not None:
            PIANOS[name].samples.require()
    write_json(settings_path, settings)
    jobs = jobs or min(len(todo), os.cpu_count() or 1) or 1
    work = [(p, out, seed, size.max_seconds) for p in todo]
    bar = tqdm(total=len(pieces), initial=len(pieces) - len(todo), desc=f"building {size_name}", unit="piece")
    # A piece must be the same bytes however the build is split between processes, and in whatever order a
    # process renders its pieces (tests/test_data_synth.py checks both; pyroomacoustics runs on one thread
    # for it). A process that dies (a crash in a native library) stops the build with an error instead of
    # leaving it waiting for its piece; the pieces finished are kept for the next run.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            for future in as_completed([pool.submit(build_piece, job) for job in work]):
                future.result()
                bar.update()
        except BrokenProcessPool:
            raise SystemExit("error: a build process died while rendering (see the message above); the "
                             "pieces already finished are kept: run the same command again to continue") from None
        except BaseException:
            pool.shutdown(cancel_futures=True)          # stop now, not after rendering every other piece
            raise
    bar.close()
    records = []
    for piece in pieces:
        with open(record_path(out, piece)) as f:
            records.append(json.load(f))
    return write_metadata(out, records)


def describe(records):
    """Hours, pianos and sources per split: the composition of a built set."""
    lines = []
    for split in SPLITS:
        rows = [r for r in records if r["split"] == split]
        if not rows:
            continue
        hours = sum(r["duration"] for r in rows) / 3600
        pianos = {p: sum(r.get("piano") == p for r in rows) for p in PIANOS}
        families = {f: sum(r.get("room", {}).get("family") == f for r in rows) for f in FAMILIES}
        sources = {}
        for r in rows:
            kind = "etude" if r.get("source") == "etude" else r["canonical_composer"]
            sources[kind] = sources.get(kind, 0) + 1
        lines.append(f"{split:>10}: {len(rows):3d} pieces, {hours:5.2f} h; pianos {pianos}; rooms {families}; "
                     f"sources {sources}")
    return "\n".join(lines)
