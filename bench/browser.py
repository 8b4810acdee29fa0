"""A static folder served on 127.0.0.1 and a page of it driven in Debian's Chromium (through Playwright):
what tests/test_web.py and bench/web_speed.py share."""
import functools
import http.server
import shutil
import threading
import time

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    delays = {}               # path (e.g. "/model.json") -> seconds to wait before answering, as a slow network

    def do_GET(self):
        time.sleep(self.delays.get(self.path, 0))
        super().do_GET()

    def log_message(self, *args):
        pass


def serve(folder, delays=None):
    """A quiet HTTP server of the folder on a free port of 127.0.0.1, in a thread; each path in `delays` is
    answered that many seconds late (each request has a thread of its own, so nothing else waits)."""
    handler = type("Handler", (QuietHandler,), {"delays": delays or {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_in_chromium(folder, query, upload, screenshot=None, delays=None):
    """Upload a file to the page (its files served late by `delays`, as `serve`); returns window.transcription,
    the status line, the console errors and, when it found notes, the bytes of the MIDI file it offers (after
    pressing play and stop)."""
    from playwright.sync_api import sync_playwright
    server = serve(folder, delays)
    midi = None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox",
                                                                                 "--autoplay-policy=no-user-gesture-required"])
            tab = browser.new_page()
            errors = []
            tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(f"http://127.0.0.1:{server.server_port}/index.html?{query}")
            tab.set_input_files("#file", str(upload))
            tab.wait_for_function("window.transcription.done || window.transcription.error", timeout=120000)
            transcription, status = tab.evaluate("window.transcription"), tab.inner_text("#status")
            if transcription.get("done"):
                tab.click("#play")
                tab.wait_for_timeout(300)
                tab.click("#stop")
                midi = bytes(tab.evaluate("fetch(document.getElementById('download').href)"
                                          ".then((r) => r.arrayBuffer()).then((b) => Array.from(new Uint8Array(b)))"))
            if screenshot:
                tab.screenshot(path=str(screenshot), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    return transcription, status, errors, midi
