"""Render speed of the sample player (data/sampler.py) beside FluidSynth on the same performances.

    python bench/sampler.py [--pieces 6]

Performances of the kit's procedural études, the densest material the builder writes, played on each
sampled piano (the Salamander grand, the VSCO 2 piano, the two freepats pianos) and on a modal piano
(data/modal_piano.py) by the sample player, and on the MuseScore Steinway by FluidSynth, one core each; the sampled pianos again with a drawn timbre (data/timbre.py), which filters
every note. The sample player's first piece pays for loading (and on the first run ever,
decoding) its samples; that cost is printed apart. Target: at least 20x realtime per core.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data import etudes  # noqa: E402
from data.performance import perform  # noqa: E402
from data.render import PIANOS, Renderer  # noqa: E402
from data.rooms import Room  # noqa: E402
from data.modal_piano import MODAL_PIANOS  # noqa: E402
from data.sample_sets import SAMPLE_SETS  # noqa: E402
from data.sampler import SamplePlayer  # noqa: E402
from data.timbre import Timbre  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=6)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    performances = []
    for number in range(args.pieces):
        rng = np.random.default_rng([7, number])
        performances.append(perform(etudes.etude(rng, number + 1), rng, max_seconds=60))
    seconds = sum(p.duration for p in performances)
    notes = sum(len(p.notes) for p in performances)
    print(f"{args.pieces} études: {seconds:.0f} s of music, {notes} notes ({notes / seconds:.1f} per second)")

    sampler = {}
    timbre = Timbre.draw(np.random.default_rng(0))
    for name, samples in {**SAMPLE_SETS, MODAL_PIANOS[0].name: MODAL_PIANOS[0]}.items():
        started = time.perf_counter()
        player = SamplePlayer(samples)
        player.render(performances[0])
        print(f"sample player ({name}), loading its samples with the first piece: "
              f"{time.perf_counter() - started:.1f} s")
        for label, drawn in [(name, None), (f"{name}, a drawn timbre", timbre)]:
            started = time.perf_counter()
            for performance in performances:
                player.render(performance, drawn)
            sampler[label] = time.perf_counter() - started

    renderer, room = Renderer(), Room.draw(np.random.default_rng(0), "studio")
    renderer.render(performances[0], PIANOS["steinway"], room, np.random.default_rng(0))     # warm its cache
    started = time.perf_counter()
    for performance in performances:
        renderer.render(performance, PIANOS["steinway"], room, np.random.default_rng(0))
    fluid = time.perf_counter() - started
    print(f"FluidSynth (MuseScore Steinway, with a studio room): {fluid:.2f} s, {seconds / fluid:.0f}x realtime")
    for name, taken in sampler.items():
        print(f"sample player ({name}): {taken:.2f} s, {seconds / taken:.0f}x realtime on one core, "
              f"{fluid / taken:.2f}x FluidSynth's speed")


if __name__ == "__main__":
    main()
