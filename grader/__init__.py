"""Instructor-only tools: the handout release, the grader and the leaderboard. Never shipped to students."""
