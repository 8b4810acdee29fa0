"""Instructor commands.

    python -m grader release           regenerate hw/model.py from solutions/model.py
    python -m grader release --check   fail if hw/model.py is out of date
    python -m grader release --zip hw.zip   also build the student handout zip
    python -m grader reference --profile cpu [--steps 5000] [--models ...] [--seeds ...]
                                       train (or resume) the reference runs, then write hw/log_examples
"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="generate the handout's model.py from the solutions")
    release.add_argument("--check", action="store_true", help="only check that hw/model.py is up to date")
    release.add_argument("--zip", metavar="OUT", help="also build the student handout as a zip")
    reference = commands.add_parser("reference", help="train the solutions and write hw/log_examples")
    reference.add_argument("--profile", choices=["cpu", "full"], default="cpu")
    reference.add_argument("--steps", type=int, default=5000)
    reference.add_argument("--validation_interval", type=int, default=1000)
    reference.add_argument("--models", nargs="+", default=["baseline", "rnn", "crnn", "onf"])
    reference.add_argument("--seeds", nargs="+", type=int, default=[42])
    reference.add_argument("--data_path", default="data/default")
    reference.add_argument("--table", action="store_true", help="only print the table of the log examples")
    reference.add_argument("--runs", default=None, help="folder of the runs (default: runs/reference)")
    reference.add_argument("--out", default=None, help="folder of the log examples (default: hw/log_examples)")
    reference.add_argument("--name", default=None, help="file name in log_examples (default: the model type); "
                                                         "e.g. quick for a short-run band")
    args = parser.parse_args(argv)

    if args.command == "release":
        from .release import write_handout_model
        if args.check:
            if not write_handout_model(check=True):
                sys.exit("hw/model.py is out of date: run `python -m grader release`")
            print("hw/model.py is up to date")
        else:
            write_handout_model()
            print("wrote hw/model.py")
        if args.zip:
            from .release import build_handout_zip
            print("wrote", build_handout_zip(args.zip))
    elif args.command == "reference":
        from .reference import LOG_EXAMPLES, RUNS, collect, table, train
        runs, out = args.runs or RUNS, args.out or LOG_EXAMPLES
        if args.table:
            print(table(args.profile, out))
            return
        for model in args.models:
            for seed in args.seeds:
                train(args.profile, model, seed, args.steps, args.validation_interval, args.data_path, runs)
            name = f"{args.name}-{model}" if args.name else None
            print("wrote", collect(args.profile, model, args.seeds, name, runs, out))


if __name__ == "__main__":
    main()
