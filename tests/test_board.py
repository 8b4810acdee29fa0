"""The leaderboard: concurrent posts, the daily limit, ranking rules, private scores, and the page in a browser."""
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from grader.board.page import student_files, write_static
from grader.board.store import Board, BoardError
from grader.scores import checkpoint_results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def results(note, frame, private_note=None, private_frame=None, score=31.0):
    """A results.json as grade() writes it for a scored checkpoint."""
    scores = {"public": {"note_f1": note, "frame_f1": frame, "pieces": 5},
              "private": {"note_f1": private_note if private_note is not None else note,
                          "frame_f1": private_frame if private_frame is not None else frame, "pieces": 5},
              "failures": []}
    leaderboard, tests = checkpoint_results(scores)
    return {"score": score, "tests": [{"name": "hidden tests", "score": score, "max_score": 31.0}] + tests,
            "leaderboard": leaderboard, "grader_version": "test"}


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "grader", "board", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})


def post_many(db, worker, count, shared_tries):
    """One process: `count` students of its own, then `shared_tries` posts by one student shared by all."""
    refused = 0
    for i in range(count):
        with Board(db) as board:
            board.post(results(0.5 + worker / 100, 0.5 + i / 100), f"w{worker}-s{i}", f"w{worker} s{i}")
    for _ in range(shared_tries):
        try:
            with Board(db) as board:
                board.post(results(0.9, 0.9), "crowd", "Crowd of eight")
        except BoardError:
            refused += 1
    return refused


def test_many_processes_posting_at_once_lose_nothing_and_keep_the_limit(tmp_path):
    db = str(tmp_path / "board.sqlite3")
    with Board(db) as board:
        board.set_setting("daily_limit", 10)
    workers, count, shared_tries = 8, 25, 3
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        refused = pool.starmap(post_many, [(db, w, count, shared_tries) for w in range(workers)])
    with Board(db) as board:
        rows = board.submissions()
        standings = board.standings()
    assert len([r for r in rows if r["student"] != "crowd"]) == workers * count
    assert len([r for r in rows if r["student"] == "crowd"]) == 10           # the limit held under contention
    assert sum(refused) == workers * shared_tries - 10
    assert len({r["id"] for r in rows}) == len(rows) and len(standings) == workers * count + 1


def test_daily_limit_refuses_with_the_time_of_the_next_chance(tmp_path):
    db = str(tmp_path / "board.sqlite3")
    assert cli("config", "--daily-limit", "2", "--db", db).returncode == 0
    with Board(db) as board:
        board.post(results(0.5, 0.5), "s1", "otter", now=T0)
        board.post(results(0.6, 0.5), "s1", "otter", now=T0 + timedelta(hours=1))
        with pytest.raises(BoardError, match=r"limit is 2: the next post is accepted after 2026-11-03 09:00 UTC"):
            board.post(results(0.7, 0.5), "s1", "otter", now=T0 + timedelta(hours=2))
        board.post(results(0.7, 0.5), "s2", "heron", now=T0 + timedelta(hours=2))    # others are not held up
        board.post(results(0.8, 0.5), "s1", "otter", now=T0 + timedelta(hours=24, seconds=1))
    with Board(db) as board:
        assert [r["public_note_f1"] for r in board.submissions() if r["student"] == "s1"] == [0.5, 0.6, 0.8]


def test_refused_posts_store_nothing_and_say_why(tmp_path):
    db = str(tmp_path / "board.sqlite3")
    unscored = {"score": 31.0, "tests": [], "leaderboard": []}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(unscored))
    out = cli("post", str(path), "--student", "s1", "--pseudonym", "otter", "--db", db)
    assert out.returncode != 0 and "no checkpoint scores" in out.stderr
    with Board(db) as board:
        board.post(results(0.5, 0.5), "s1", "otter", now=T0)
        for student, pseudonym, reason in [("s2", "Otter", "taken by another student"),
                                           ("s1", "heron", "this student posts as 'otter'"),
                                           ("s3", "s3", "must not be the student id"),
                                           ("s4", "<script>alert(1)</script>", "not allowed"),
                                           ("s5", "", "not allowed")]:
            with pytest.raises(BoardError, match=re.escape(reason)):
                board.post(results(0.9, 0.9), student, pseudonym, now=T0)
        assert len(board.submissions()) == 1


def test_ranking_takes_each_students_best_then_frame_f1_then_the_earlier_submission(tmp_path):
    with Board(str(tmp_path / "board.sqlite3")) as board:
        posts = [("a", "alder", 0.80, 0.70), ("b", "birch", 0.80, 0.75), ("a", "alder", 0.80, 0.75),
                 ("c", "cedar", 0.80, 0.90), ("d", "dogwood", 0.50, 0.99), ("c", "cedar", 0.10, 0.10)]
        for minute, (student, pseudonym, note, frame) in enumerate(posts):
            board.post(results(note, frame), student, pseudonym, now=T0 + timedelta(minutes=minute))
        standings = board.standings()
    # cedar: best frame F1 at note .80; birch's .80/.75 came before alder's; dogwood's frame F1 cannot save it
    assert [(r["rank"], r["pseudonym"]) for r in standings] == [(1, "cedar"), (2, "birch"), (3, "alder"),
                                                                 (4, "dogwood")]
    assert [(r["note_f1"], r["frame_f1"], r["submissions"]) for r in standings] == [
        (0.8, 0.9, 2), (0.8, 0.75, 1), (0.8, 0.75, 2), (0.5, 0.99, 1)]
    assert standings[0]["last_posted_at"] == "2026-11-02T09:05:00.000000Z"


def test_after_reveal_the_publicly_chosen_submission_is_ranked_by_its_private_scores(tmp_path):
    with Board(str(tmp_path / "board.sqlite3")) as board:
        board.post(results(0.9, 0.5, private_note=0.40, private_frame=0.5), "a", "alder", now=T0)
        board.post(results(0.6, 0.5, private_note=0.95, private_frame=0.5), "a", "alder", now=T0)
        board.post(results(0.8, 0.5, private_note=0.70, private_frame=0.5), "b", "birch", now=T0)
        assert [r["pseudonym"] for r in board.standings()] == ["alder", "birch"]
        board.reveal()
        final = board.standings()
    assert [(r["pseudonym"], r["note_f1"], r["public_note_f1"]) for r in final] == [
        ("birch", 0.70, 0.8), ("alder", 0.40, 0.9)]


def student_outputs(db, out, server_log):
    """Every student-visible output: the page files, a static copy, the served pages and the server's log,
    and what `board post` prints."""
    with Board(db) as board:
        texts = list(student_files(board).values())
    write_static(db, str(out))
    texts += [(out / name).read_text() for name in os.listdir(out)]
    server = subprocess.Popen([sys.executable, "-m", "grader", "board", "serve", "--port", "0", "--db", db],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=server_log, text=True)
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        for name in ["", "standings.json", "standings.csv", "?me=otter"]:
            with urllib.request.urlopen(url + name) as response:
                texts.append(response.read().decode())
    finally:
        server.terminate()
        server.wait()
    return texts


def test_private_scores_and_student_ids_appear_in_no_student_output_before_reveal(tmp_path):
    db = str(tmp_path / "board.sqlite3")
    private = {"s-1001": (0.31415, 0.27182), "s-1002": (0.16180, 0.14142), "s-1003": (0.57721, 0.69314)}
    posted = []
    for i, (student, (note, frame)) in enumerate(private.items()):
        path = tmp_path / f"results{i}.json"
        path.write_text(json.dumps(results(0.8 - i / 10, 0.7 - i / 10, note, frame)))
        done = cli("post", str(path), "--student", student, "--pseudonym", f"pseudo{i}", "--db", db)
        assert done.returncode == 0, done.stderr
        posted += [done.stdout, done.stderr]
    forms = [form for note, frame in private.values() for value in (note, frame)
             for form in (repr(value), f"{value:.4f}", f"{value:.3f}")]

    with open(tmp_path / "serve.log", "w") as log:
        before = posted + student_outputs(db, tmp_path / "static", log)
    before.append((tmp_path / "serve.log").read_text())
    leaks = [(form, text[:80]) for text in before for form in forms + list(private) if form in text]
    assert not leaks

    with Board(db) as board:
        board.reveal()
    with open(tmp_path / "serve2.log", "w") as log:
        after = "\n".join(student_outputs(db, tmp_path / "static-revealed", log))
    assert all(f"{note:.4f}" in after for note, _ in private.values())   # the check above can see them
    assert not any(student in after for student in private)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
def test_page_in_a_real_browser_shows_the_order_highlights_me_sorts_on_click_and_reveals(tmp_path):
    from playwright.sync_api import sync_playwright
    db = str(tmp_path / "board.sqlite3")
    entries = [("s1", "Marlin", 0.91, 0.60, 0.70), ("s2", "Gannet", 0.86, 0.95, 0.86),
               ("s3", "kestrel", 0.72, 0.80, 0.72), ("s4", "Auk", 0.40, 0.70, 0.40), ("s5", "Zebu", 0.86, 0.50, 0.86)]
    with Board(db) as board:
        for minute, (student, pseudonym, note, frame, private_note) in enumerate(entries):
            board.post(results(note, frame, private_note), student, pseudonym, now=T0 + timedelta(minutes=minute))
    server = subprocess.Popen([sys.executable, "-m", "grader", "board", "serve", "--port", "0", "--db", db],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page()
            page.goto(url + "?me=gannet")

            def column(index):
                return page.locator(f"#standings tbody tr td:nth-child({index})").all_inner_texts()

            assert column(2) == ["Marlin", "Gannet", "Zebu", "kestrel", "Auk"]
            assert page.locator("tr.me td:nth-child(2)").all_inner_texts() == ["Gannet"]
            assert page.locator("#me-status").inner_text() == "You are ranked 2 of 5."
            assert page.locator(".bar.me").get_attribute("data-bin") == "17"
            page.screenshot(path=os.environ.get("BOARD_SCREENSHOT", str(tmp_path / "board.png")), full_page=True)

            page.click("th[data-key=frame_f1]")
            assert column(2) == ["Gannet", "kestrel", "Auk", "Marlin", "Zebu"]
            page.click("th[data-key=frame_f1]")
            assert column(2) == ["Zebu", "Marlin", "Auk", "kestrel", "Gannet"]
            page.click("th[data-key=pseudonym]")
            assert column(2) == ["Auk", "Gannet", "kestrel", "Marlin", "Zebu"]
            page.click("th[data-key=rank]")
            assert column(1) == ["5", "4", "3", "2", "1"]
            page.click("th[data-key=last_posted_at]")
            assert column(2) == ["Marlin", "Gannet", "kestrel", "Auk", "Zebu"]

            page.fill("#me", "Auk")
            assert page.locator("tr.me td:nth-child(2)").all_inner_texts() == ["Auk"]

            with Board(db) as board:
                board.reveal()
            page.goto(url)                      # Marlin's private note F1 (.70) drops it to fourth
            assert page.locator("#standings thead th").all_inner_texts()[2:6] == [
                "Private note F1", "Private frame F1", "Public note F1", "Public frame F1"]
            assert column(2) == ["Gannet", "Zebu", "kestrel", "Marlin", "Auk"]
            assert column(3)[3] == "0.7000" and column(5)[3] == "0.9100"
            browser.close()
    finally:
        server.terminate()
        server.wait()
