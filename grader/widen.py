"""A trained model made wider without changing what it computes (Net2WiderNet, Chen et al., 2016).

    python -m grader pretrained widen --fc_unit 256      # the run's newest recipe goes on at fc_unit 256

A model that scores about the same on its training pieces as on its validation pieces (the pretrained
transcriber at step 336,000: note F1 .902 against .899) is short of capacity more than of data. Training a
wider one from scratch would cost the hundreds of thousands of steps the narrow one took. Instead, each unit
of a ConvStack's last linear layer is copied (fc_unit doubled: every unit twice), and each layer reading those
units reads each copy at half its weight: the wider model's outputs equal the narrow one's (in eval mode, up
to rounding), and training goes on from there. On 2 CPU cores the linear width is nearly free (cnn 16: fc 128
trains at 3.7 steps/s, fc 256 at 3.4; transcription speed unchanged), while wider convolutions halve the
speed of both.

Exact copies read at equal weights get equal gradients, and only dropout, which drops them independently,
tells them apart: after 64,000 steps of the pretrained run (336,000 to 400,000) the two copies of a unit
still differed by 3 to 8 % (the norm of their difference against a copy's). Adam gives both nearly the same
update whatever their gradients' scale, and the run's validation note F1 stayed where the narrow run's had
been (.855 to .867). So the copies are also parted (parted_state): a random n is added to one copy's incoming
weights and taken from the other's. The stack's linear layer feeds its readers directly (no activation
between), so a pair read at equal weights still sums to what the unit did: the model computes the same, but
each copy now has a gradient of its own. A run widened before this can be parted in place (`python -m grader
pretrained part`).

Works on any model whose stacks are named `<name>_conv_stack` and whose layers reading a stack are
`<name>_lstm` (its first layer's input weights) or, without one, `<name>_fc` (the homework's models and the
solutions' OnsetsAndFrames).
"""
import re

import torch

STACK_FC = re.compile(r"^(?P<name>\w+)_conv_stack\.fc\.0\.weight$")
PARTING_NOISE = 0.3        # n's spread, against the spread of the copied unit's incoming weights


def readers(state, name, width):
    """The weights that read the `name` stack's output (their last dimension is `width`): the input weights of
    the first layer of `<name>_lstm` where there is one (`<name>_fc` then reads the LSTM), else `<name>_fc`'s."""
    keys = [f"{name}_lstm.weight_ih_l0", f"{name}_lstm.weight_ih_l0_reverse"]
    if keys[0] not in state:
        keys = [f"{name}_fc.weight"]
    found = [key for key in keys if key in state]
    wrong = [key for key in found if state[key].shape[-1] != width]
    if not found or wrong:
        raise ValueError(f"the {name}_conv_stack's output ({width} units) is read by {found or 'no layer'}"
                         + (f", and {wrong} do not take {width} inputs" if wrong else "")
                         + ": widen only models named as model.py names them")
    return found


def stack_layers(state):
    """{stack name: the key of its linear layer's weight} for every `<name>_conv_stack` of the state dict."""
    stacks = {match["name"]: key for key in state if (match := STACK_FC.match(key))}
    if not stacks:
        raise ValueError("the model has no <name>_conv_stack.fc layer to widen")
    return stacks


def widened_state(state, fc_unit, noise=PARTING_NOISE, seed=0):
    """The state dict with every ConvStack's linear layer `fc_unit` wide (twice its width): each unit copied,
    each reader of the stack taking each copy at half weight, and the copies parted (parted_state)."""
    wide = dict(state)
    for name, key in stack_layers(state).items():
        width = state[key].shape[0]
        if fc_unit != 2 * width:
            raise ValueError(f"{name}_conv_stack is {width} units wide: widening doubles it, so fc_unit must be "
                             f"{2 * width}, not {fc_unit}")
        bias = key.replace(".weight", ".bias")
        wide[key] = torch.cat([state[key], state[key]])
        wide[bias] = torch.cat([state[bias], state[bias]])
        for reader in readers(state, name, width):
            half = state[reader] / 2
            wide[reader] = torch.cat([half, half], dim=-1)
    return parted_state(wide, noise, seed)


def parted_state(state, noise=PARTING_NOISE, seed=0):
    """The state dict with the two halves of every ConvStack's linear layer (a unit's copies, as widened_state
    lays them out) pushed apart: n, drawn per weight with `noise` times the spread of the unit's incoming
    weights, added to the first copy and taken from the second."""
    generator = torch.Generator().manual_seed(seed)
    parted = dict(state)
    for key in stack_layers(state).values():
        first, second = state[key].chunk(2)
        n = noise * first.std(dim=1, keepdim=True) * torch.randn(first.shape, generator=generator)
        parted[key] = torch.cat([first + n, second - n])
    return parted


def widened_checkpoint(checkpoint, fc_unit, optimizer_state, source):
    """A train.py checkpoint of the same model `fc_unit` wide, at the same step, with `optimizer_state`
    (a fresh Adam's, built on the wider model: the narrow one's moments do not fit it); `source` names
    the file its weights came from."""
    return {**checkpoint, "fc_unit": fc_unit, "optimizer_state_dict": optimizer_state,
            "model_state_dict": widened_state(checkpoint["model_state_dict"], fc_unit),
            "widened": {"from_fc_unit": checkpoint["fc_unit"], "at_step": checkpoint["step"], "from": source}}
