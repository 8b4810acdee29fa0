"""The student handout is generated from the instructor's files, so the two can never drift apart.

solutions/model.py marks each answer between `# BEGIN SOLUTION` and `# END SOLUTION`, followed by a
`# STUB: <line>` comment. The handout's hw/model.py is that file with every marked region replaced by
its stub line.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTION_MODEL = os.path.join(ROOT, "solutions", "model.py")
HANDOUT_MODEL = os.path.join(ROOT, "hw", "model.py")
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = re.compile(r"^(\s*)# STUB: (.*)$")


def strip_solutions(text):
    """The handout version of a solution file's text."""
    out, inside = [], False
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution region")
            inside = True
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif inside:
            continue
        elif STUB.match(line):
            indent, code = STUB.match(line).groups()
            out.append(f"{indent}{code}\n")
        else:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} never closed")
    return "".join(out)


def solution_lines(text):
    """The code lines inside solution regions: none of them may appear in the handout."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def write_handout_model(check=False):
    """Regenerate hw/model.py; with check=True only report whether it is up to date. Returns True if in sync."""
    with open(SOLUTION_MODEL) as f:
        expected = strip_solutions(f.read())
    current = open(HANDOUT_MODEL).read() if os.path.exists(HANDOUT_MODEL) else None
    if check:
        return current == expected
    if current != expected:
        with open(HANDOUT_MODEL, "w") as f:
            f.write(expected)
    return True
