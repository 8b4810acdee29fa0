"""Self-checks for Q1-Q3: run `pytest` in hw/. A question you have not answered yet shows as skipped."""
import pytest
import torch
import torch.nn.functional as F

from model import MODELS, LogMelSpectrogram

ATTRIBUTES = {
    "baseline": ["frame_conv_stack", "frame_fc", "onset_conv_stack", "onset_fc"],
    "rnn": ["frame_lstm", "frame_fc", "onset_lstm", "onset_fc"],
    "crnn": ["frame_conv_stack", "frame_lstm", "frame_fc", "onset_conv_stack", "onset_lstm", "onset_fc"],
    "onf": ["frame_conv_stack", "frame_fc", "onset_conv_stack", "onset_lstm", "onset_fc", "combined_lstm",
            "combined_fc"],
}
# The last layer of each output: its logits come straight out of it, with nothing after.
LAST_LAYER = {"frame": {"baseline": "frame_fc", "rnn": "frame_fc", "crnn": "frame_fc", "onf": "combined_fc"},
              "onset": {model_type: "onset_fc" for model_type in ATTRIBUTES}}
SMALL = dict(cnn_unit=4, fc_unit=16)     # narrow layers keep these tests fast; the structure is the same


def check(condition, message):
    """Fail with the message alone: no traceback, no tensors."""
    if not condition:
        pytest.fail(message, pytrace=False)


def build(model_type, **options):
    torch.manual_seed(0)
    try:
        return MODELS[model_type](SMALL["cnn_unit"], SMALL["fc_unit"], **options)
    except NotImplementedError as stub:
        pytest.skip(str(stub))


def run(model, audio):
    try:
        return model(audio)
    except NotImplementedError as stub:
        pytest.skip(str(stub))


def audio(batch=2, samples=25600):
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(1)) * 0.1


def check_frame_then_onset(model_type, model):
    """Raise the bias of each output's last layer by 50: exactly that output must rise by 50 everywhere."""
    model.eval()                                        # no dropout: the same input gives the same output
    x = audio()
    with torch.no_grad():
        before = run(model, x)
        check(isinstance(before, tuple) and len(before) == 2, "forward must return (frame_logit, onset_logit)")
        for position, output in enumerate(("frame", "onset")):
            name = LAST_LAYER[output][model_type]
            bias = getattr(model, name).bias
            bias += 50
            after = model(x)
            bias -= 50
            rose = [bool(((new - old - 50).abs() < 1e-2).all()) for new, old in zip(after, before)]
            check(rose[position] or not rose[1 - position],
                  "forward returned (onset_logit, frame_logit): return (frame_logit, onset_logit), frames first")
            check(rose[position], f"{output}_logit does not come straight out of {name}: return {name}'s output "
                                  "as it is (no sigmoid, no other layer after it)")
    model.train()


def test_log_mel_has_one_frame_per_hop():
    shape = tuple(LogMelSpectrogram()(audio(samples=102400)).shape)
    check(shape == (2, 200, 229), f"the log-mel spectrogram has shape {shape}, not (2, 200, 229)")


@pytest.mark.parametrize("model_type", list(ATTRIBUTES))
def test_attribute_names(model_type):
    model = build(model_type)
    missing = [name for name in ATTRIBUTES[model_type] if not hasattr(model, name)]
    check(not missing, f"{model_type} lacks the attributes {missing} (see the class docstring)")


@pytest.mark.parametrize("model_type", list(ATTRIBUTES))
@pytest.mark.parametrize("samples", [25600, 51200])
def test_outputs_are_two_logit_rolls(model_type, samples):
    outputs = run(build(model_type), audio(samples=samples))
    check(isinstance(outputs, tuple) and len(outputs) == 2, "forward must return (frame_logit, onset_logit)")
    for name, output in zip(("frame_logit", "onset_logit"), outputs):
        check(tuple(output.shape) == (2, samples // 512, 88),
              f"{name} has shape {tuple(output.shape)}, not (batch, samples // 512, 88) = (2, {samples // 512}, 88)")
        check(bool((output < 0).any()), f"{name} holds no negative value: return logits, not probabilities")


@pytest.mark.parametrize("model_type", list(ATTRIBUTES))
def test_outputs_come_as_frame_then_onset(model_type):
    check_frame_then_onset(model_type, build(model_type))


@pytest.mark.parametrize("model_type", ["rnn", "crnn", "onf"])
def test_lstms_are_bidirectional_with_88_units(model_type):
    model = build(model_type)
    lstms = [m for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    check(lstms, "no nn.LSTM found")
    for lstm in lstms:
        check(lstm.bidirectional and lstm.hidden_size == 88 and lstm.num_layers == 2 and lstm.batch_first,
              f"{lstm} should be nn.LSTM(..., 88, num_layers=2, batch_first=True, bidirectional=True)")


def frame_loss_gradients(model):
    """Backpropagate a frame loss alone; returns which branches it reached."""
    frame_logit, onset_logit = run(model, audio())
    F.binary_cross_entropy_with_logits(frame_logit, torch.zeros_like(frame_logit)).backward()
    reached = {}
    for name in ("onset_conv_stack", "onset_lstm", "onset_fc", "combined_fc"):
        reached[name] = any(p.grad is not None and bool(p.grad.any()) for p in getattr(model, name).parameters())
    return reached


def test_onf_frame_loss_does_not_train_the_onset_branch():
    model = build("onf")
    check_frame_then_onset("onf", model)               # a swapped output would look like a missing detach
    reached = frame_loss_gradients(model)
    check(reached["combined_fc"], "the frame loss does not reach combined_fc: frame_logit must come out of it")
    trained = [name for name in ("onset_conv_stack", "onset_lstm", "onset_fc") if reached[name]]
    check(not trained, f"the frame loss reached {', '.join(trained)}: detach sigmoid(onset_logit) before "
                       "concatenating it with the frame branch (unless detach_onsets=False)")


def test_onf_without_detach_lets_the_frame_loss_train_the_onset_branch():
    try:
        model = build("onf", detach_onsets=False)
    except TypeError:
        pytest.fail("Transcriber_ONF(cnn_unit, fc_unit, detach_onsets=False) fails: keep the detach_onsets "
                    "argument of the handout's Transcriber_ONF", pytrace=False)
    reached = frame_loss_gradients(model)
    trained = [name for name in ("onset_conv_stack", "onset_lstm", "onset_fc") if reached[name]]
    check(trained == ["onset_conv_stack", "onset_lstm", "onset_fc"],
          "with detach_onsets=False the frame loss should reach the whole onset branch (for Q4's ablation); "
          f"it reached {trained or 'none of it'}: detach only when self.detach_onsets is True")


@pytest.mark.parametrize("model_type", list(ATTRIBUTES))
def test_a_few_steps_lower_the_loss(model_type):
    model = build(model_type)
    x = audio()
    frames = torch.zeros(2, 50, 88)
    frames[:, 10:30, 40] = 1
    onsets = torch.zeros(2, 50, 88)
    onsets[:, 10, 40] = 1
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(12):
        frame_logit, onset_logit = run(model, x)
        loss = F.binary_cross_entropy_with_logits(frame_logit, frames) + \
            F.binary_cross_entropy_with_logits(onset_logit, onsets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    check(losses[-1] < 0.5 * losses[0], f"the loss went {losses[0]:.3f} -> {losses[-1]:.3f} in 12 steps; "
                                        "it should at least halve")
