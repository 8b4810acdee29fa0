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
SMALL = dict(cnn_unit=4, fc_unit=16)     # narrow layers keep these tests fast; the structure is the same


def build(model_type, cnn_unit=SMALL["cnn_unit"], fc_unit=SMALL["fc_unit"]):
    torch.manual_seed(0)
    try:
        return MODELS[model_type](cnn_unit, fc_unit)
    except NotImplementedError as stub:
        pytest.skip(str(stub))


def run(model, audio):
    try:
        return model(audio)
    except NotImplementedError as stub:
        pytest.skip(str(stub))


def audio(batch=2, samples=25600):
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(1)) * 0.1


def test_log_mel_has_one_frame_per_hop():
    mel = LogMelSpectrogram()(audio(samples=102400))
    assert mel.shape == (2, 200, 229)


@pytest.mark.parametrize("model_type", list(ATTRIBUTES))
def test_attribute_names(model_type):
    model = build(model_type)
    missing = [name for name in ATTRIBUTES[model_type] if not hasattr(model, name)]
    assert not missing, f"{model_type} lacks the attributes {missing} (see the class docstring)"


@pytest.mark.parametrize("model_type", list(ATTRIBUTES))
@pytest.mark.parametrize("samples", [25600, 51200])
def test_outputs_are_two_logit_rolls(model_type, samples):
    outputs = run(build(model_type), audio(samples=samples))
    assert isinstance(outputs, tuple) and len(outputs) == 2, "forward must return (frame_logit, onset_logit)"
    for name, output in zip(("frame_logit", "onset_logit"), outputs):
        assert output.shape == (2, samples // 512, 88), f"{name} has shape {tuple(output.shape)}"
        assert (output < 0).any(), f"{name} holds no negative value: return logits, not probabilities"


@pytest.mark.parametrize("model_type", ["rnn", "crnn", "onf"])
def test_lstms_are_bidirectional_with_88_units(model_type):
    model = build(model_type)
    lstms = [m for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    assert lstms, "no nn.LSTM found"
    for lstm in lstms:
        assert lstm.bidirectional and lstm.hidden_size == 88 and lstm.num_layers == 2 and lstm.batch_first


def test_onf_frame_loss_does_not_train_the_onset_branch():
    model = build("onf")
    frame_logit, onset_logit = run(model, audio())
    F.binary_cross_entropy_with_logits(frame_logit, torch.zeros_like(frame_logit)).backward()
    for name in ("onset_conv_stack", "onset_lstm", "onset_fc"):
        for parameter in getattr(model, name).parameters():
            assert parameter.grad is None or not parameter.grad.any(), \
                f"the frame loss reached {name}: detach the onset output before the frame branch uses it"
    assert any(p.grad is not None and p.grad.any() for p in model.combined_fc.parameters())


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
    assert losses[-1] < 0.5 * losses[0], f"the loss went {losses[0]:.3f} -> {losses[-1]:.3f} in 12 steps"
