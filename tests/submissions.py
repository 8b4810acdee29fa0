"""Real submission folders for the grader tests: the solutions, the stubs, common mistakes, hostile code.

Each mistake is the solution file with one edit a student could plausibly make; each hostile submission
is the solution file with code prepended (or inserted) that tries to break out or break the grader.
"""
import os
import pickle
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTION = os.path.join(ROOT, "solutions", "model.py")
HANDOUT = os.path.join(ROOT, "hw", "model.py")


def solution_text():
    with open(SOLUTION) as f:
        return f.read()


def edited(old, new, count=1):
    text = solution_text()
    assert text.count(old) >= count, f"the solution no longer contains {old!r}"
    return text.replace(old, new, count)


RNN_FRAME_LSTM = "self.frame_lstm = nn.LSTM(N_MELS, LSTM_UNITS, num_layers=2, batch_first=True, bidirectional=True)"
RNN_FRAME_FC = "self.frame_fc = nn.Linear(2 * LSTM_UNITS, N_KEYS)"

# name: (model type, model.py text, the checks expected to fail, a phrase the reason must contain)
MISTAKES = {
    "onset not detached": ("onf", lambda: edited("onset.detach() if self.detach_onsets else onset", "onset"),
                           {"gradient"}, "detach the onset output"),
    "unidirectional LSTM": ("rnn", lambda: edited(RNN_FRAME_LSTM, RNN_FRAME_LSTM.replace("True)", "False)")).replace(
        RNN_FRAME_FC, "self.frame_fc = nn.Linear(LSTM_UNITS, N_KEYS)", 1),
        {"layers", "parameters", "transplant"}, "frame_lstm.bidirectional is False"),
    "wrong LSTM size": ("crnn", lambda: edited(
        "self.frame_lstm = nn.LSTM(fc_unit, LSTM_UNITS,", "self.frame_lstm = nn.LSTM(fc_unit, 2 * LSTM_UNITS,").replace(
        "self.frame_fc = nn.Linear(2 * LSTM_UNITS, N_KEYS)\n        self.onset_conv_stack",
        "self.frame_fc = nn.Linear(4 * LSTM_UNITS, N_KEYS)\n        self.onset_conv_stack", 1),
        {"layers", "parameters", "transplant"}, "frame_lstm.hidden_size is 176, expected 88"),
    "swapped outputs": ("rnn", lambda: edited("self.onset_lstm(mel)[0])\n        return frame_logit, onset_logit",
                                              "self.onset_lstm(mel)[0])\n        return onset_logit, frame_logit"),
                        {"transplant"}, "return (frame_logit, onset_logit)"),
    "sigmoid in forward": ("crnn", lambda: edited(
        "onset_logit = self.onset_fc(self.onset_lstm(self.onset_conv_stack(mel))[0])\n        return frame_logit, onset_logit",
        "onset_logit = self.onset_fc(self.onset_lstm(self.onset_conv_stack(mel))[0])\n"
        "        return torch.sigmoid(frame_logit), torch.sigmoid(onset_logit)"),
        {"transplant", "training"}, "applies a sigmoid"),     # logits squashed twice barely learn
    "wrong attribute name": ("onf", lambda: solution_text().replace("self.combined_lstm", "self.joint_lstm"),
                             {"layers", "transplant"}, "no attribute combined_lstm"),
}

# Accepted: the ONF's combined input with the onset part first (the 2020 text does not fix the order).
ONSET_FIRST = ("onf", lambda: edited("torch.cat([frame, onset.detach() if self.detach_onsets else onset], dim=-1)",
                                     "torch.cat([onset.detach() if self.detach_onsets else onset, frame], dim=-1)"))

# name: (model type it attacks, code run when that model is built); {root} is the grader's source folder.
HOSTILE = {
    "infinite loop": ("rnn", "while True:\n    pass\n"),
    "memory bomb": ("rnn", "hoard = [bytearray(1 << 30) for _ in range(64)]\n"),
    "fork bomb": ("rnn", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
    "socket": ("rnn", "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=5)\n"),
    "reads the solutions": ("rnn", "print(open('{root}/solutions/model.py').read())\n"),
    "reads the grader": ("rnn", "print(open('{root}/grader/hidden_tests.py').read())\n"),
    "writes outside its folder": ("rnn", "open('{root}/grader/owned.py', 'w').write('x')\n"),
    "overwrites the handout": ("rnn", "import dataset\nopen(dataset.__file__, 'w').write('x')\n"),
}


def write_submission(folder, text, checkpoint=None):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.py"), "w") as f:
        f.write(text)
    if checkpoint:
        shutil.copyfile(checkpoint, os.path.join(folder, "model.pt"))
    return folder


def write_class(folder, count):
    """`count` submission folders student000.. for the benchmarks: copies of the solutions, with the stubs
    (every fifth from the fourth) and common mistakes (every fifth from the fifth) among them."""
    mistakes = sorted(MISTAKES)
    for i in range(count):
        student = os.path.join(folder, f"student{i:03d}")
        if i % 5 == 3:
            os.makedirs(student)
            shutil.copyfile(HANDOUT, os.path.join(student, "model.py"))
        elif i % 5 == 4:
            write_submission(student, MISTAKES[mistakes[i % len(mistakes)]][1]())
        else:
            write_submission(student, solution_text())
    return folder


def hostile_text(code, model_type, root=ROOT, text=None):
    """The solution (or `text`) with `code` run when the attacked class is built, so the other models still
    grade; `root` is where the attacked grader lives."""
    code = code.replace("{root}", root)
    class_line = {"rnn": "class Transcriber_RNN(nn.Module):", "crnn": "class Transcriber_CRNN(nn.Module):",
                  "onf": "class Transcriber_ONF(nn.Module):"}[model_type]
    text = text or solution_text()
    init = text.index("        super().__init__()", text.index(class_line))
    body = "".join("        " + line + "\n" for line in code.splitlines())
    return text[:init] + body + text[init:]


class RunsCode:
    """A pickle that runs a shell command when loaded: what a malicious model.pt would hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_pickle_checkpoint(path, marker):
    with open(path, "wb") as f:
        pickle.dump({"model_type": "rnn", "cnn_unit": 16, "fc_unit": 128, "payload": RunsCode(marker)}, f)
