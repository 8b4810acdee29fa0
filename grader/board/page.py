"""The leaderboard page, and the student-visible files beside it (standings.json, standings.csv).

Everything here is built from `Board.standings()` only, which holds no student ids and, before reveal,
no private scores. The page is one self-contained HTML file (no scripts or fonts from elsewhere): a
table that sorts when a header is clicked, the viewer's row highlighted when they give their pseudonym
(`?me=NAME`, or the box above the table), and a histogram of note F1.
"""
import csv
import html
import io
import json
import os
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .store import Board

COLUMNS = [("rank", "Rank"), ("pseudonym", "Pseudonym"), ("note_f1", "Note F1"), ("frame_f1", "Frame F1"),
           ("submissions", "Submissions"), ("last_posted_at", "Last submission (UTC)")]
REVEALED_COLUMNS = COLUMNS[:2] + [("note_f1", "Private note F1"), ("frame_f1", "Private frame F1"),
                                  ("public_note_f1", "Public note F1"), ("public_frame_f1", "Public frame F1")] \
    + COLUMNS[4:]
TEXT_COLUMNS = {"pseudonym", "last_posted_at"}      # sorted as text (ISO times sort as text)
BINS = 20

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 64em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; width: 100%; }
.scroll { overflow-x: auto; }
th, td { padding: .3em .6em; border-bottom: 1px solid #ddd; text-align: right; }
td, th:first-child { white-space: nowrap; }
th:nth-child(2), td:nth-child(2) { text-align: left; }
th { cursor: pointer; user-select: none; background: #f4f4f4; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
tr.me td { background: #fff3b0; font-weight: bold; }
.bar { fill: #7a9cc6; } .bar.me { fill: #e0a800; }
.note { color: #555; }
#finder { position: sticky; top: 0; background: #fff; padding: .5em 0; margin: 0; z-index: 1; }
"""

SCRIPT = """
const table = document.getElementById('standings');
const body = table.tBodies[0];
function sortBy(th) {
  const column = th.cellIndex;
  const ascending = th.getAttribute('aria-sort') === 'descending'
    || (th.getAttribute('aria-sort') === null && th.dataset.type === 'text');
  for (const other of table.tHead.rows[0].cells) other.removeAttribute('aria-sort');
  th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
  const key = row => th.dataset.type === 'text' ? row.cells[column].dataset.value.toLowerCase()
                                                 : Number(row.cells[column].dataset.value);
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return (ascending ? order : -order) || Number(a.dataset.rank) - Number(b.dataset.rank);
  });
  for (const row of rows) body.appendChild(row);
}
for (const th of table.tHead.rows[0].cells) th.addEventListener('click', () => sortBy(th));

function highlight(name) {
  name = (name || '').trim().toLowerCase();
  let mine = null;
  for (const row of body.rows) {
    const me = name !== '' && row.dataset.pseudonym.toLowerCase() === name;
    row.classList.toggle('me', me);
    if (me) mine = row;
  }
  for (const bar of document.querySelectorAll('.bar')) bar.classList.remove('me');
  const status = document.getElementById('me-status');
  if (mine) {
    const bin = document.querySelector('.bar[data-bin="' + mine.dataset.bin + '"]');
    if (bin) bin.classList.add('me');
    status.textContent = 'You are ranked ' + mine.dataset.rank + ' of ' + body.rows.length + '.';
    mine.scrollIntoView({block: 'center'});
  } else {
    status.textContent = name ? 'No one posts as that pseudonym.' : '';
  }
}
const box = document.getElementById('me');
box.value = new URLSearchParams(location.search).get('me') || '';
box.addEventListener('input', () => highlight(box.value));
highlight(box.value);
"""


def note_bin(value):
    return min(int(value * BINS), BINS - 1)


def histogram_svg(values, width=600, height=140):
    counts = [0] * BINS
    for value in values:
        counts[note_bin(value)] += 1
    top = max(counts) or 1
    bar_width = width / BINS
    parts = [f'<svg id="histogram" width="{width}" height="{height + 30}" role="img" '
             f'aria-label="How many students reach each note F1">']
    for i, count in enumerate(counts):
        bar = (height - 20) * count / top          # room above the tallest bar for its count
        parts.append(f'<rect class="bar" data-bin="{i}" x="{i * bar_width + 1:.1f}" y="{height - bar:.1f}" '
                     f'width="{bar_width - 2:.1f}" height="{bar:.1f}"><title>note F1 {i / BINS:.2f}-'
                     f'{(i + 1) / BINS:.2f}: {count}</title></rect>')
        if count:
            parts.append(f'<text x="{(i + .5) * bar_width:.1f}" y="{height - bar - 3:.1f}" font-size="10" '
                         f'text-anchor="middle">{count}</text>')
    for tick in range(0, 11, 2):
        parts.append(f'<text x="{tick / 10 * width:.0f}" y="{height + 16}" font-size="11" '
                     f'text-anchor="{"start" if tick == 0 else "end" if tick == 10 else "middle"}">'
                     f'{tick / 10:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def cell(key, value):
    if key in ("pseudonym", "last_posted_at"):
        shown = value if key == "pseudonym" else value[:16].replace("T", " ")
        return f'<td data-value="{html.escape(value)}">{html.escape(shown)}</td>'
    shown = f"{value:.4f}" if isinstance(value, float) else str(value)
    return f'<td data-value="{value}">{shown}</td>'


def render_page(standings, revealed, title="Piano transcription leaderboard", generated=None):
    columns = REVEALED_COLUMNS if revealed else COLUMNS
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    what = ("Final standings: note and frame F1 on the private part of the hidden test set, for each "
            "student's submission chosen by its public-part scores." if revealed else
            "Note and frame F1 on the public part of the hidden test set, for each student's best "
            "submission (note F1, then frame F1, then the earlier submission). The final standings use "
            "the private part, revealed after the deadline.")
    sorted_by = {"rank": ' aria-sort="ascending"'}
    head = "".join(f'<th data-key="{key}" data-type="{"text" if key in TEXT_COLUMNS else "number"}"'
                   f'{sorted_by.get(key, "")}>{label}</th>' for key, label in columns)
    rows = []
    for entry in standings:
        cells = "".join(cell(key, entry[key]) for key, _ in columns)
        rows.append(f'<tr data-rank="{entry["rank"]}" data-pseudonym="{html.escape(entry["pseudonym"])}" '
                    f'data-bin="{note_bin(entry["note_f1"])}">{cells}</tr>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">{what} {len(standings)} students. Updated {generated}.</p>
<h2>Note F1 of the class</h2>
{histogram_svg([entry["note_f1"] for entry in standings])}
<p id="finder"><label>Your pseudonym: <input id="me" autocomplete="off"></label> <span id="me-status"></span></p>
<div class="scroll"><table id="standings"><thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></div>
<script>{SCRIPT}</script>
</body></html>
"""


def standings_csv(standings, revealed):
    out = io.StringIO()
    writer = csv.writer(out)
    columns = REVEALED_COLUMNS if revealed else COLUMNS
    writer.writerow([key for key, _ in columns])
    for entry in standings:
        writer.writerow([entry[key] for key, _ in columns])
    return out.getvalue()


CONTENT_TYPES = {"index.html": "text/html; charset=utf-8", "standings.json": "application/json",
                 "standings.csv": "text/csv; charset=utf-8"}


def student_files(board, names=tuple(CONTENT_TYPES)):
    """{file name: content} of everything a student may see (only the files named, when given)."""
    standings, revealed = board.standings(), board.revealed
    render = {"index.html": lambda: render_page(standings, revealed,
                                                board.setting("title", "Piano transcription leaderboard")),
              "standings.json": lambda: json.dumps({"revealed": revealed, "standings": standings}, indent=1),
              "standings.csv": lambda: standings_csv(standings, revealed)}
    return {name: render[name]() for name in names}


def write_static(db_path, out):
    os.makedirs(out, exist_ok=True)
    with Board(db_path) as board:
        files = student_files(board)
    for name, content in files.items():
        with open(os.path.join(out, name + ".part"), "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(os.path.join(out, name + ".part"), os.path.join(out, name))
    return sorted(files)


def serve(db_path, host="127.0.0.1", port=8000):
    """Serve the page live from the store (each request reads the current standings)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            if name not in CONTENT_TYPES:
                self.send_error(404, "only /, /standings.json and /standings.csv are served")
                return
            with Board(db_path) as board:
                body = student_files(board, [name])[name].encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES[name])
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    print(f"serving the leaderboard of {db_path} at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
