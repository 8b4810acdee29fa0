"""`python -m grader board ...`: post results, set the rules, reveal, publish and export."""
import csv
import json
import os
import sys

from .store import Board, BoardError

DEFAULT_DB = "leaderboard.sqlite3"


def add_commands(commands):
    board = commands.add_parser("board", help="the class leaderboard (post, serve, html, reveal, config, export)")
    actions = board.add_subparsers(dest="action", required=True)
    post = actions.add_parser("post", help="post a graded results.json")
    post.add_argument("results")
    add_identity(post)
    serve = actions.add_parser("serve", help="serve the page locally, live from the store")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) keeps it on this machine")
    html = actions.add_parser("html", help="write a static copy (index.html, standings.json, standings.csv)")
    html.add_argument("--out", required=True)
    actions.add_parser("reveal", help="after the deadline: rank by the private part and show it to students")
    config = actions.add_parser("config", help="show or change the rules")
    config.add_argument("--daily-limit", dest="daily_limit", type=int, help="posts per student in 24 hours")
    config.add_argument("--title", help="the page's title")
    export = actions.add_parser("export", help="instructors: every submission with student ids and private scores")
    export.add_argument("--csv", required=True)
    for parser in (post, serve, html, config, export, actions.choices["reveal"]):
        parser.add_argument("--db", default=DEFAULT_DB, help=f"the leaderboard file (default {DEFAULT_DB})")


def add_identity(parser):
    parser.add_argument("--student", required=True, help="the student's id (stored, never shown)")
    parser.add_argument("--pseudonym", required=True, help="the name shown on the board")


def post_results(db_path, results, student, pseudonym):
    """Post and say so in words a student may read (public scores only until reveal). Exits on refusal."""
    try:
        with Board(db_path) as board:
            number = board.post(results, student, pseudonym)
            standings = board.standings()
            row = next(entry for entry in standings if entry["pseudonym"] == pseudonym)
            left, revealed = board.posts_left(student), board.revealed
    except BoardError as error:
        sys.exit(f"board: {error}")
    public_scores = ", ".join(f"{entry['name']} {entry['value']:.4f}" for entry in results["leaderboard"])
    board_name = "final standings" if revealed else "public standings"
    print(f"posted submission {number} as {pseudonym}; its public scores: "
          f"{public_scores}. "
          f"{pseudonym} is ranked {row['rank']} of {len(standings)} in the {board_name} "
          f"(best note F1 {row['note_f1']:.4f}); {left} post(s) left in the next 24 hours.")


def run(args):
    if args.action == "post":
        try:
            with open(args.results) as f:
                results = json.load(f)
        except (OSError, ValueError) as error:
            sys.exit(f"board: cannot read {args.results} as a results.json: {error}")
        post_results(args.db, results, args.student, args.pseudonym)
    elif args.action == "serve":
        from .page import serve
        serve(args.db, args.host, args.port)
    elif args.action == "html":
        from .page import write_static
        names = write_static(args.db, args.out)
        print(f"wrote {', '.join(names)} to {args.out}")
    elif args.action == "reveal":
        with Board(args.db) as board:
            board.reveal()
            standings = board.standings()
        print(f"revealed: {len(standings)} students ranked by the private part; the top ten:")
        for row in standings[:10]:
            print(f"{row['rank']:4d}  {row['pseudonym']:32} note F1 {row['note_f1']:.4f}  "
                  f"frame F1 {row['frame_f1']:.4f}  (public {row['public_note_f1']:.4f})")
    elif args.action == "config":
        with Board(args.db) as board:
            if args.daily_limit is not None:
                if args.daily_limit < 1:
                    sys.exit("board: --daily-limit must be at least 1")
                board.set_setting("daily_limit", args.daily_limit)
            if args.title is not None:
                board.set_setting("title", args.title)
            print(f"daily limit {board.daily_limit} posts per student in 24 hours; title "
                  f"{board.setting('title', '(default)')!r}; "
                  f"{'revealed at ' + board.setting('revealed_at') if board.revealed else 'not revealed'}")
    elif args.action == "export":
        with Board(args.db) as board:
            rows = board.submissions()
        os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["id"])
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} submissions to {args.csv}")
