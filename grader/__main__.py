"""Instructor commands.

    python -m grader release           regenerate hw/model.py from solutions/model.py
    python -m grader release --check   fail if hw/model.py is out of date
"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="generate the handout's model.py from the solutions")
    release.add_argument("--check", action="store_true", help="only check that hw/model.py is up to date")
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


if __name__ == "__main__":
    main()
