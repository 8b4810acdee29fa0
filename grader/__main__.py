"""Instructor commands.

    python -m grader release           regenerate hw/model.py from solutions/model.py
    python -m grader release --check   fail if hw/model.py is out of date
    python -m grader release --zip hw.zip   also build the student handout zip
    python -m grader reference --profile cpu [--set {5k,quick,debug}] [--models ...] [--seeds ...] [--skip_test]
                                       train (or resume) the reference runs, then write hw/log_examples
    python -m grader pretrained {train,blend,export,table} [--steps N] [--data_path DIR] [--augment] [--detune]
                                       [--noise] [--learning_rate LR] [--keep_weights DIR] [--checkpoints A B]
                                       [--checkpoint NAME]
                                       the kit's pretrained transcriber: train (resumable), then hw/pretrained
    python -m grader grade SUBMISSION [--out results.json] [--metric-check {none,quick,5k}] [--test_data DIR]
                                       [--device {cpu,cuda}]
                                       grade one folder, zip or model.py in the sandbox
    python -m grader grade-all DIR [--jobs N | --cluster SPEC] [--regrade] --csv grades.csv
                                       grade every submission in DIR, N at a time or on a Dask cluster
    python -m grader gradescope-bundle --out autograder.zip
                                       the Gradescope autograder (setup.sh + run_autograder)
    python -m grader board post results.json --student ID --pseudonym NAME
    python -m grader board {serve,html,reveal,config,export}
                                       the class leaderboard (grader/README.md, "Leaderboard")
"""
import argparse
import os
import sys
import time

from .board.commands import DEFAULT_DB, post_results
from .board.commands import add_commands as add_board_commands
from .board.commands import run as run_board


def seconds(text):
    """argparse type of a time limit: a whole number of seconds, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time limit: give a whole number of seconds, 1 or more")
    return int(text)


def add_time_limit(command):
    """The --time_limit of `grade`, `grade-all` and `gradescope-bundle`: one definition, so they agree."""
    command.add_argument("--time_limit", type=seconds, default=60, help="seconds for each model's hidden tests")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="generate the handout's model.py from the solutions")
    release.add_argument("--check", action="store_true", help="only check that hw/model.py is up to date")
    release.add_argument("--zip", metavar="OUT", help="also build the student handout as a zip")
    reference = commands.add_parser("reference", help="train the solutions and write hw/log_examples")
    reference.add_argument("--profile", choices=["cpu", "full"], default="cpu")
    reference.add_argument("--set", dest="reference_set", choices=["5k", "quick", "debug"], default="5k",
                           help="5k: the README's runs; quick: the quick metric check's band (200 steps, 3 seeds); "
                                "debug: train.py --debug")
    reference.add_argument("--steps", type=int, default=None, help="override the set's steps")
    reference.add_argument("--validation_interval", type=int, default=None, help="override the set's interval")
    reference.add_argument("--models", nargs="+", default=["baseline", "rnn", "crnn", "onf"])
    reference.add_argument("--seeds", nargs="+", type=int, default=None, help="override the set's seeds")
    reference.add_argument("--threads", type=int, default=1, help="CPU threads per run (default 1)")
    reference.add_argument("--data_path", default="data/default")
    reference.add_argument("--skip_test", action="store_true", help="no final test (when the test split is elsewhere)")
    reference.add_argument("--device", default=None, help="train.py's --device (default: cuda when there is one)")
    reference.add_argument("--amp", default=None,          # passed on: train.py checks it against its AMP_MODES
                           help="train.py's --amp (mixed precision; default: train.py's own, off)")
    reference.add_argument("--table", action="store_true", help="only print the table of the log examples")
    reference.add_argument("--runs", default=None, help="folder of the runs (default: runs/reference)")
    reference.add_argument("--out", default=None, help="folder of the log examples (default: hw/log_examples)")
    pretrained = commands.add_parser("pretrained", help="train (or continue) the kit's pretrained transcriber, "
                                                        "blend two of its checkpoints, export it to hw/pretrained, "
                                                        "or print its validation curve")
    pretrained.add_argument("action", choices=["train", "blend", "export", "table", "widen", "part"])
    pretrained.add_argument("--steps", type=int, default=200000, help="train until this step")
    pretrained.add_argument("--threads", type=int, default=1, help="CPU threads of the run")
    pretrained.add_argument("--augment", action="store_true",
                            help="train with train.py --augment (random equalisers) from this sitting on")
    pretrained.add_argument("--detune", action="store_true",
                            help="train with train.py --detune (random tunings) from this sitting on")
    pretrained.add_argument("--noise", action="store_true",
                            help="train with train.py --noise (background noise) from this sitting on")
    pretrained.add_argument("--learning_rate", type=float, default=None,
                            help="train: restart the learning rate at this value (train.py decays it from there)")
    pretrained.add_argument("--keep_weights", metavar="DIR",
                            help="train: keep the weights of every checkpoint of the sitting in DIR (train.py keeps "
                                 "only the newest), for a blend with the mean of a stretch")
    pretrained.add_argument("--checkpoints", nargs="+", metavar="NAME",
                            help="blend: two checkpoints of the run's log folder (e.g. model-best-until-168000.pt "
                                 "model-196000.pt) or their paths; with more, the earliest is mixed with the mean "
                                 "of the others")
    pretrained.add_argument("--weights", nargs="+", type=float, default=None,
                            help="blend: the later checkpoint's weights to try (default 0 0.3 0.5 0.7 1)")
    pretrained.add_argument("--checkpoint", default="model-best.pt",
                            help="export and widen: which checkpoint of the run's log folder (e.g. model-blend-412000.pt)")
    pretrained.add_argument("--fc_unit", type=int, default=None,
                            help="widen: the run's new linear width (twice its width); training goes on from the "
                                 "widened --checkpoint")
    pretrained.add_argument("--data_path", default="data/default",
                            help="train: the data of this sitting (e.g. data/large); "
                                 "blend and export: where its validation and test pieces are")
    for name, help_text in [("grade", "grade one submission (folder, zip or model.py)"),
                            ("grade-all", "grade every submission in a folder")]:
        sub = commands.add_parser(name, help=help_text)
        if name == "grade":
            sub.add_argument("submission")
            sub.add_argument("--out", default="results.json", help="Gradescope results.json to write")
            sub.add_argument("--keep", metavar="DIR", help="keep the sandbox's files there (to debug the grader)")
            sub.add_argument("--post", action="store_true", help="post the results to the leaderboard")
            sub.add_argument("--student", help="with --post: the student's id")
            sub.add_argument("--pseudonym", help="with --post: the name shown on the board")
            sub.add_argument("--db", default=DEFAULT_DB, help=f"with --post: the leaderboard file ({DEFAULT_DB})")
        else:
            sub.add_argument("folder")
            sub.add_argument("--jobs", type=int, default=1, help="grade N at a time on this machine: --cluster local:N")
            sub.add_argument("--cluster", default=None, help="local:N, tcp://HOST:PORT, slurm:N or jobqueue-local:N "
                                                             "(grader/README.md, \"Grading on a cluster\")")
            sub.add_argument("--regrade", action="store_true", help="grade again what already has a results.json")
            sub.add_argument("--csv", default="grades.csv")
            sub.add_argument("--results", default="graded", help="folder for each submission's results.json")
            sub.add_argument("--timeout", type=seconds, default=3600, help="seconds per submission")
        sub.add_argument("--metric-check", dest="metric_check", choices=["none", "quick", "5k"], default="none")
        sub.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                         help="where the metric check trains (cuda: the GPU, bound into the sandbox)")
        sub.add_argument("--data_path", default="data/default",
                         help="data whose validation crops feed the hidden tests and the metric check")
        sub.add_argument("--test_data", default=None, help="hidden test set scoring a submitted model.pt")
        sub.add_argument("--models", nargs="+", default=["rnn", "crnn", "onf"], choices=["rnn", "crnn", "onf"])
        add_time_limit(sub)
        sub.add_argument("--unsafe-no-sandbox", dest="unsafe", action="store_true",
                         help="run student code without bubblewrap (only for code you trust)")
    add_board_commands(commands)
    bundle = commands.add_parser("gradescope-bundle", help="build the Gradescope autograder zip")
    bundle.add_argument("--out", default="autograder.zip")
    bundle.add_argument("--metric-check", dest="metric_check", choices=["none", "quick"], default="none")
    bundle.add_argument("--test_data", default=None, help="a built hidden test set to pack in")
    add_time_limit(bundle)
    args = parser.parse_args(argv)
    if args.command == "grade" and args.post and not (args.student and args.pseudonym):
        parser.error("grade --post needs --student and --pseudonym")
    if getattr(args, "device", "cpu") == "cuda":            # refuse before grading anything
        from .sandbox import SandboxUnavailable, require_gpu
        try:
            require_gpu()
        except SandboxUnavailable as error:
            parser.error(str(error))

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
        from .reference import LOG_EXAMPLES, RUNS, SETS, collect, table, train
        runs, out = args.runs or RUNS, args.out or LOG_EXAMPLES
        if args.table:
            print(table(args.profile, out))
            return
        spec = SETS[args.reference_set]
        steps = args.steps or spec["steps"]
        interval = args.validation_interval or spec["validation_interval"]
        seeds = args.seeds or spec["seeds"]
        flags = spec["flags"] + (["--amp", args.amp] if args.amp else [])
        for model in args.models:
            for seed in seeds:
                train(args.profile, model, seed, steps, interval, args.data_path, runs, spec["name"],
                      spec["test"] and not args.skip_test, flags, args.threads, args.device)
            print("wrote", collect(args.profile, model, seeds, spec["name"], runs, out))
    elif args.command == "pretrained":
        from .blend import WEIGHTS
        from .pretrained import (blend_pretrained, export_pretrained, part_pretrained, readme_figures, train_pretrained,
                                 widen_pretrained)
        if args.action == "train":
            flags = [flag for flag, given in [("--augment", args.augment), ("--detune", args.detune),
                                              ("--noise", args.noise)] if given]
            train_pretrained(args.steps, args.threads, args.data_path, flags=flags, learning_rate=args.learning_rate,
                             keep_weights=args.keep_weights)
        elif args.action == "blend":
            if not args.checkpoints:
                parser.error("blend needs --checkpoints A B [C ...]: two or more checkpoints of the run's log folder")
            blend_pretrained(args.checkpoints, args.weights or WEIGHTS, args.data_path)
        elif args.action == "export":
            print("wrote", export_pretrained(args.data_path, checkpoint=args.checkpoint))
        elif args.action == "widen":
            if not args.fc_unit:
                parser.error("widen needs --fc_unit N: the run's new linear width, twice its width")
            widen_pretrained(args.fc_unit, checkpoint=args.checkpoint)
        elif args.action == "part":
            part_pretrained()
        else:
            print(readme_figures())
    elif args.command == "grade":
        from .grade import grade, write_results
        results = grade(args.submission, args.data_path, args.test_data, args.metric_check, args.unsafe,
                        args.models, args.keep, args.time_limit, args.device)
        write_results(results, args.out)
        print(results["output"])
        print("wrote", args.out)
        if args.post:
            post_results(args.db, results, args.student, args.pseudonym)
    elif args.command == "grade-all":
        from .batch import grade_all
        from .cluster import ClusterError
        grade_args = ["--metric-check", args.metric_check, "--device", args.device,
                      "--data_path", os.path.abspath(args.data_path), "--time_limit", str(args.time_limit),
                      "--models", *args.models]
        paths = [os.path.abspath(args.data_path)]
        if args.test_data:
            grade_args += ["--test_data", os.path.abspath(args.test_data)]
            paths.append(os.path.abspath(args.test_data))
        if args.unsafe:
            grade_args.append("--unsafe-no-sandbox")
        cluster = args.cluster or f"local:{args.jobs}"
        started = time.monotonic()
        try:
            rows = grade_all(os.path.abspath(args.folder), os.path.abspath(args.results), args.csv, cluster,
                             grade_args, args.timeout, args.regrade,
                             gpu=args.device == "cuda" and args.metric_check != "none", paths=paths)
        except ClusterError as error:
            sys.exit(f"error: {error}")
        for row in rows:
            print(f"{row['submission']:30} {row['score']!s:>6} / {row['max_score']!s:<6} {row['status']}")
        failed = sum(row["status"].startswith(("failed", "grader", "no results")) for row in rows)
        left = sum(row["status"].startswith("not graded") for row in rows)
        print(f"graded {len(rows) - left} of {len(rows)} submissions ({failed} failed) in "
              f"{time.monotonic() - started:.1f} s on {cluster}; wrote {args.csv}")
        if left:
            sys.exit(f"error: {left} submissions not graded: the cluster lost every worker; start workers and "
                     "run the same command again (it keeps what is graded)")
    elif args.command == "board":
        run_board(args)
    elif args.command == "gradescope-bundle":
        from .gradescope import build_bundle
        print("wrote", build_bundle(args.out, args.metric_check, args.test_data, args.time_limit))


if __name__ == "__main__":
    main()
