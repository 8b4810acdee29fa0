"""The leaderboard's store: every posted submission in one SQLite file (WAL, so readers never block a post).

Rules, in one place:
- Each student counts with one submission, their best on the public part of the hidden test set: highest
  note F1, then highest frame F1, then the earlier submission.
- Before `reveal`, students see only public-part scores; the queries that feed student-visible output do
  not even select the private columns. After `reveal`, each student's counted submission stays the one
  chosen by its public scores (as on Kaggle: letting the private part choose would leak it into the
  choice) and the final ranking orders those submissions by their private-part scores.
- A student may post at most `daily_limit` submissions in any 24 hours.
- Pseudonyms are shown, student ids never.
"""
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone

from ..scores import checkpoint_scores

DEFAULT_DAILY_LIMIT = 5
PSEUDONYM = re.compile(r"[\w][\w .-]{0,30}[\w.]|[\w]")   # 1-32 letters, digits, space, . - _

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    student   TEXT PRIMARY KEY,
    pseudonym TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE IF NOT EXISTS submissions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    student          TEXT NOT NULL REFERENCES students(student),
    posted_at        TEXT NOT NULL,          -- UTC, ISO 8601: sorts as text
    grader_version   TEXT NOT NULL,
    score            REAL,
    max_score        REAL,
    public_note_f1   REAL NOT NULL,
    public_frame_f1  REAL NOT NULL,
    private_note_f1  REAL NOT NULL,
    private_frame_f1 REAL NOT NULL,
    results          TEXT NOT NULL           -- the whole results.json, for the record
);
CREATE INDEX IF NOT EXISTS submissions_by_student ON submissions(student, posted_at);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class BoardError(Exception):
    """A post or command the board refuses; the message says why and what to do."""


def utc_now():
    return datetime.now(timezone.utc)


def iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Board:
    def __init__(self, path):
        self.path = path
        # isolation_level=None: transactions are begun explicitly, so a post's check and insert are atomic.
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # settings
    def setting(self, key, default=None):
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def set_setting(self, key, value):
        self.db.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, str(value)))

    @property
    def daily_limit(self):
        return int(self.setting("daily_limit", DEFAULT_DAILY_LIMIT))

    @property
    def revealed(self):
        return self.setting("revealed_at") is not None

    def reveal(self, now=None):
        if not self.revealed:
            self.set_setting("revealed_at", iso(now or utc_now()))

    # posting
    def post(self, results, student, pseudonym, now=None):
        """Store one graded submission; returns its id. Refuses (BoardError) and stores nothing when the
        results hold no checkpoint scores, the pseudonym is taken or malformed, or the daily limit is reached."""
        scores = checkpoint_scores(results)
        if scores is None:
            raise BoardError("these results hold no checkpoint scores (the submission had no model.pt, or it "
                             "was graded without --test_data): nothing was posted")
        student, pseudonym = str(student).strip(), str(pseudonym).strip()
        if not student:
            raise BoardError("the student id is empty")
        if not PSEUDONYM.fullmatch(pseudonym):
            raise BoardError(f"pseudonym {pseudonym!r} is not allowed: use 1-32 letters, digits, spaces, '.', "
                             "'-' or '_', starting with a letter or digit")
        if pseudonym.casefold() == student.casefold():
            raise BoardError("the pseudonym must not be the student id: the board never shows student ids")
        now = now or utc_now()
        public, private = scores["public"], scores["private"]
        self.db.execute("BEGIN IMMEDIATE")      # one writer at a time from here: the limit check holds
        try:
            self._claim_pseudonym(student, pseudonym)
            limit = self.daily_limit
            recent = self._recent_posts(student, now)
            if len(recent) >= limit:
                again = datetime.strptime(recent[0], "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(days=1)
                raise BoardError(f"{pseudonym} has posted {len(recent)} submissions in the last 24 hours, the "
                                 f"limit is {limit}: the next post is accepted after "
                                 f"{again.strftime('%Y-%m-%d %H:%M')} UTC (nothing was posted; the results "
                                 "file is unchanged)")
            cursor = self.db.execute(
                "INSERT INTO submissions (student, posted_at, grader_version, score, max_score, public_note_f1,"
                " public_frame_f1, private_note_f1, private_frame_f1, results) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (student, iso(now), str(results.get("grader_version", "unknown")), results.get("score"),
                 sum(t.get("max_score", 0) for t in results.get("tests", [])),
                 public["note_f1"] or 0.0, public["frame_f1"] or 0.0,
                 private["note_f1"] or 0.0, private["frame_f1"] or 0.0, json.dumps(results)))
            self.db.execute("COMMIT")
            return cursor.lastrowid
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _claim_pseudonym(self, student, pseudonym):
        row = self.db.execute("SELECT pseudonym FROM students WHERE student = ?", (student,)).fetchone()
        if row:
            if row["pseudonym"] != pseudonym:
                raise BoardError(f"this student posts as {row['pseudonym']!r}; pass --pseudonym "
                                 f"{row['pseudonym']!r} (pseudonyms do not change during a course)")
            return
        taken = self.db.execute("SELECT 1 FROM students WHERE pseudonym = ?", (pseudonym,)).fetchone()
        if taken:
            raise BoardError(f"pseudonym {pseudonym!r} is taken by another student: choose another")
        self.db.execute("INSERT INTO students VALUES (?, ?)", (student, pseudonym))

    # reading
    def standings(self):
        """Student-visible rows, best first: rank, pseudonym, note_f1, frame_f1, submissions, last_posted_at.
        Before reveal the private columns are never read; after it, note_f1/frame_f1 are the private part's
        and public_note_f1/public_frame_f1 are added."""
        revealed = self.revealed
        extra = ", private_note_f1, private_frame_f1" if revealed else ""
        order = ("private_note_f1 DESC, private_frame_f1 DESC" if revealed
                 else "public_note_f1 DESC, public_frame_f1 DESC")
        rows = self.db.execute(f"""
            SELECT pseudonym, public_note_f1, public_frame_f1, posted_at, id, submissions, last_posted_at{extra}
            FROM (SELECT s.*, p.pseudonym,
                         COUNT(*) OVER (PARTITION BY s.student) AS submissions,
                         MAX(s.posted_at) OVER (PARTITION BY s.student) AS last_posted_at,
                         ROW_NUMBER() OVER (PARTITION BY s.student ORDER BY public_note_f1 DESC,
                                            public_frame_f1 DESC, posted_at, s.id) AS choice
                  FROM submissions s JOIN students p ON p.student = s.student)
            WHERE choice = 1
            ORDER BY {order}, posted_at, id""").fetchall()
        standings = []
        for rank, row in enumerate(rows, 1):
            entry = {"rank": rank, "pseudonym": row["pseudonym"], "submissions": row["submissions"],
                     "last_posted_at": row["last_posted_at"]}
            if revealed:
                entry.update(note_f1=row["private_note_f1"], frame_f1=row["private_frame_f1"],
                             public_note_f1=row["public_note_f1"], public_frame_f1=row["public_frame_f1"])
            else:
                entry.update(note_f1=row["public_note_f1"], frame_f1=row["public_frame_f1"])
            standings.append(entry)
        return standings

    def submissions(self):
        """Every submission with everything (instructors only)."""
        return [dict(row) for row in self.db.execute(
            "SELECT s.id, s.student, p.pseudonym, s.posted_at, s.grader_version, s.score, s.max_score,"
            " s.public_note_f1, s.public_frame_f1, s.private_note_f1, s.private_frame_f1"
            " FROM submissions s JOIN students p ON p.student = s.student ORDER BY s.id")]

    def _recent_posts(self, student, now):
        """Times of the student's posts in the 24 hours before now, oldest first."""
        return [row["posted_at"] for row in self.db.execute(
            "SELECT posted_at FROM submissions WHERE student = ? AND posted_at > ? ORDER BY posted_at",
            (student, iso(now - timedelta(days=1))))]

    def posts_left(self, student, now=None):
        return max(self.daily_limit - len(self._recent_posts(student, now or utc_now())), 0)
