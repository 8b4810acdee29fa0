"""How a checkpoint's scores on the hidden test set are written into results.json, and read back by the board.

The public part's note and frame F1 become Gradescope leaderboard entries and a visible test; both parts
go into one test with visibility "hidden", which Gradescope never shows to students.
"""
import json

PUBLIC_TEST = "checkpoint on the hidden test set (public part)"
PRIVATE_TEST = "checkpoint on the hidden test set (private part)"


def checkpoint_results(scores):
    """Leaderboard entries (public part) and the two checkpoint tests, the private one hidden."""
    public, private = scores["public"], scores["private"]
    leaderboard = [{"name": "note F1", "value": round(public["note_f1"] or 0.0, 4), "order": "desc"},
                   {"name": "frame F1", "value": round(public["frame_f1"] or 0.0, 4), "order": "desc"}]
    failures = f"; failed pieces: {scores['failures']}" if scores.get("failures") else ""
    tests = [{"name": PUBLIC_TEST, "score": 0.0, "max_score": 0.0,
              "output": f"note F1 {public['note_f1'] or 0:.4f}, frame F1 {public['frame_f1'] or 0:.4f} on "
                        f"{public['pieces']} pieces" + failures},
             {"name": PRIVATE_TEST, "score": 0.0, "max_score": 0.0, "visibility": "hidden",
              "output": json.dumps({"private": private, "public": public})}]
    return leaderboard, tests


def checkpoint_scores(results):
    """{"public": {...}, "private": {...}} as written by checkpoint_results, or None when not scored."""
    for test in results.get("tests", []):
        if test.get("name") == PRIVATE_TEST:
            return json.loads(test["output"])
    return None
