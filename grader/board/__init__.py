"""The class leaderboard: a SQLite store of graded submissions (store.py) and its page (page.py)."""
