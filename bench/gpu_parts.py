"""Pack what bench/gpu_check.sh needs on a GPU machine that takes at most --part_mib per transfer.

    python bench/gpu_parts.py [--data data/default] [--out .gpu] [--part_mib 56] [-- GPU_CHECK_FLAGS]

The device tool sends the repository and the carried files, 64 MiB in all, per call, and the GPU machine
has no network. The check trains on the data set's train and validation splits (data/default: about 205 MiB of
FLAC, so four transfers) and needs the Python packages that machine lacks (as wheels). This writes
.gpu/part-1 ... part-N, each a folder of hard links under the size, the wheels in part 1, and prints the
device calls that gather the parts on the machine and run the check in the last one. The test split stays
here: the check skips the final test. Where the repository's own files and a part would pass 64 MiB (the
pretrained run's checkpoints are large), it first prints the commands that set the largest files aside.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 2 ** 20
CALL_MIB = 64                              # what one device call carries: the working tree and a part together
GATHERED = "/tmp/gpu-check"                # where the parts meet on the GPU machine
# What the GPU machine's Python (3.12, with torch, numpy, scipy, tqdm and matplotlib) lacks for training
# and grading: from an import trace of bench/gpu_check.sh on CPU (imports beyond that image's packages).
WHEELS = ["soundfile==0.14.0", "cffi==2.1.1", "pycparser==3.12", "mir_eval==0.8.2", "decorator==5.3.1",
          "pretty_midi==0.2.11.post0", "mido==1.3.3", "importlib_resources==7.1.0"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]


def download_wheels(folder, python_version="3.12"):
    """The wheels for the GPU machine's Python, without their dependencies (WHEELS names each one)."""
    os.makedirs(folder, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
               python_version, "--implementation", "cp", "-d", folder, *WHEELS]
    for platform in PLATFORMS:
        command[5:5] = ["--platform", platform]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"pip could not download the wheels ({result.stderr.strip().splitlines()[-1]}); it needs PyPI")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def size(path):
    return os.path.getsize(path)


def split_files(data, splits=("validation", "train")):
    """data.json's pieces of the splits, each as its audio and label files (paths relative to the data)."""
    with open(os.path.join(data, "data.json")) as f:
        records = json.load(f)
    return [[r["audio_filename"], r["midi_filename"]] for split in splits for r in records if r["split"] == split]


def plan_parts(data, wheels, part_bytes):
    """Lists of (source, relative destination), each list under part_bytes; a piece never splits."""
    name = os.path.basename(os.path.normpath(data))
    first = [(path, os.path.join("wheels", os.path.basename(path))) for path in wheels]
    first.append((os.path.join(data, "data.json"), os.path.join(name, "data.json")))
    parts, current, used = [], first, sum(size(src) for src, _ in first)
    for piece in split_files(data):
        files = [(os.path.join(data, rel), os.path.join(name, rel)) for rel in piece]
        needed = sum(size(src) for src, _ in files)
        if needed > part_bytes:
            sys.exit(f"{piece[0]} ({needed / MIB:.1f} MiB with its labels) is larger than a part; raise --part_mib")
        if used + needed > part_bytes:
            parts.append(current)
            current, used = [], 0
        current += files
        used += needed
    return parts + [current]


def working_tree(root=ROOT):
    """(path, bytes) of each file a device call sends, largest first: the tracked files that are there and the
    untracked ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    files = [(path, os.path.getsize(os.path.join(root, path))) for path in set(listed)
             if path and os.path.isfile(os.path.join(root, path))]
    return sorted(files, key=lambda file: (-file[1], file[0]))


def files_to_set_aside(tree, part_bytes, call_bytes=CALL_MIB * MIB):
    """The fewest of the largest files of the tree to move away so that the rest and a part fit in one call."""
    aside, total = [], sum(size for _, size in tree)
    for path, size in tree:
        if total + part_bytes <= call_bytes:
            break
        aside.append(path)
        total -= size
    return aside


def write_parts(parts, out):
    """Hard links (copies across file systems) in out/part-<k>, in place of earlier parts; returns the folders."""
    for name in os.listdir(out) if os.path.isdir(out) else []:
        if name.startswith("part-"):
            shutil.rmtree(os.path.join(out, name))
    folders = []
    for number, files in enumerate(parts, 1):
        folder = os.path.join(out, f"part-{number}")
        for source, destination in files:
            target = os.path.join(folder, destination)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
        folders.append(folder)
    return folders


def device_commands(folders, data_name, gathered=GATHERED, wheels=True, check_flags=()):
    """The command of each device call: gather its part; the last one also runs the check and packs what it
    measured into $OUT/gpu-check.tgz, which comes back."""
    commands = []
    for folder in folders:
        relative = os.path.relpath(folder, ROOT)
        commands.append(f"mkdir -p {gathered} && cp -r {relative}/. {gathered}/ && du -sh {gathered}")
    commands[-1] += (f" && bash bench/gpu_check.sh --data {gathered}/{data_name} --tar $OUT/gpu-check.tgz"
                     + (f" --wheels {gathered}/wheels" if wheels else "") + "".join(f" {flag}" for flag in check_flags))
    return commands


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "default"))
    parser.add_argument("--out", default=os.path.join(ROOT, ".gpu"))
    parser.add_argument("--part_mib", type=float, default=56, help="the most a part holds (the tool carries 64 MiB "
                                                                   "with the repository)")
    parser.add_argument("--no_wheels", action="store_true", help="leave the wheels out (a machine that has them)")
    parser.add_argument("--gather_to", default=GATHERED, help="where the parts meet on the GPU machine")
    parser.add_argument("check_flags", nargs="*", help="after --: more flags for gpu_check.sh (--steps 1000 ...)")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.data, "data.json")):
        sys.exit(f"{args.data} has no data.json: build it first (make data)")
    wheels = [] if args.no_wheels else download_wheels(os.path.join(args.out, "wheels"))
    folders = write_parts(plan_parts(args.data, wheels, args.part_mib * MIB), args.out)
    commands = device_commands(folders, os.path.basename(os.path.normpath(args.data)), args.gather_to,
                               not args.no_wheels, args.check_flags)
    try:
        tree = working_tree()
    except (OSError, subprocess.CalledProcessError):
        tree = []                                              # not a git checkout: nothing to weigh
    part_sizes = [sum(size(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
                  for folder in folders]
    aside = files_to_set_aside(tree, max(part_sizes))
    if aside:
        names = " ".join(aside)
        print(f"The working tree holds {sum(s for _, s in tree) / MIB:.1f} MiB and a call carries {CALL_MIB} MiB "
              f"with its part: set {len(aside)} files aside for the calls (stop whatever writes them first):\n"
              f"  tar cf /tmp/gpu-aside.tar {names} && rm {names}\nand put them back after the last call:\n"
              f"  tar xf /tmp/gpu-aside.tar")
    for number, (folder, part_size, command) in enumerate(zip(folders, part_sizes, commands), 1):
        print(f"call {number}: carry [\"{os.path.relpath(folder, ROOT)}\"] ({part_size / MIB:.1f} MiB), "
              f"timeout_s {'590' if number == len(folders) else '120'}, command:\n  {command}")


if __name__ == "__main__":
    main()
