"""Device memory of a pack, estimated from the model's shapes (pure Python: the Snakefile plans with it).

A training step keeps, per sample and member, the tensors autograd saves for the backward pass; for a
pre-activation Wide ResNet block that is its input (batch norm), the ReLU output (also what the
convolution and the shortcut read), the first convolution's output (batch norm) and the second ReLU's
output: 2·C_in·P_in + 2·C_out·P_out elements (P: positions, L or H·W). The backward pass adds gradient
buffers of about the largest activations. Evaluation (no gradients) holds about one block's tensors at a
time. ``tests/test_memory.py`` checks these counts against what autograd really saves, so the estimate
cannot drift from the model.

:func:`pack_memory` adds parameters, gradients and momentum (3 copies), the resident data and the
evaluation pass; :func:`eval_rows` sizes evaluation passes so they stay inside a byte budget whatever
the pack's width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .families import arch_args, family_of, mobilenetv2_plan

FLOAT = 4  # bytes: activations are float32 (bf16 autocast keeps batch norm in fp32: an upper bound)
EVAL_BUDGET = 256 * 2**20  # bytes of activations per evaluation pass
EVAL_ROWS_MAX = 512  # rows per pass at most (a pack of one: the size results were made with)
BACKWARD_BUFFERS = 3  # the backward pass holds about this many of the largest activation's gradients


@dataclass(frozen=True)
class Activations:
    """Elements per sample and member: saved for backward, the largest tensor, the no-grad peak."""

    saved: int
    largest: int
    eval_peak: int
    features: int = 0  # the three stages' outputs and the pooled embedding (feature-level distillation)


def _downsample(positions: tuple[int, ...], stride: int) -> tuple[int, ...]:
    # kernel 3, padding 1 (and the 1×1 shortcut, padding 0): ceil(n / stride) per axis
    return tuple(-(-n // stride) for n in positions)


def wrn_activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """A Wide ResNet's activations on one input of ``in_channels`` × ``positions`` (L, or H, W)."""
    args = arch_args(arch)
    n, k = (args["depth"] - 4) // 6, args["width"]
    size = math.prod(positions)
    saved = in_channels * size  # the stem convolution's input (the channels-last copy)
    largest, eval_peak = 16 * size, (in_channels + 16) * size
    channels, features = 16, 0
    for out_channels, stride in zip((16 * k, 32 * k, 64 * k), (1, 2, 2)):
        for block in range(n):
            out_positions = _downsample(positions, stride if block == 0 else 1)
            before, after = channels * math.prod(positions), out_channels * math.prod(out_positions)
            saved += 2 * before + 2 * after
            largest = max(largest, before, after)
            eval_peak = max(eval_peak, 2 * before + 2 * after)
            channels, positions = out_channels, out_positions
        features += channels * math.prod(positions)  # the stage's output
    last = channels * math.prod(positions)
    saved += 2 * last + channels  # final batch norm's input, its ReLU output (the pool's input), pooled
    return Activations(saved, largest, eval_peak, features + channels)


@dataclass(frozen=True)
class LiveTeacherMemory:
    """What one teacher run live in a pack keeps on the device, in bytes (:func:`live_teacher_memory`)."""

    parameters: int  # its weights (eval: no gradients, no momentum)
    inputs: int  # its inputs resident on the device (a modality's are counted with its first teacher)
    forward: int  # per row of a step: its no-grad forward
    features: int  # per row: the stage outputs and embedding it hands the losses, and their per-entry copies


def live_teacher_memory(arch: str, in_channels: int, positions: tuple[int, ...], num_classes: int, dims: int,
                        inputs_bytes: int, features: bool) -> LiveTeacherMemory:
    """A live teacher of ``arch``; a step runs it on at most the pack's width × batch rows (every member
    drawing its own rows)."""
    acts = activations(arch, in_channels, positions)
    return LiveTeacherMemory(parameters=parameters(arch, in_channels, dims, num_classes) * FLOAT, inputs=inputs_bytes,
                             forward=acts.eval_peak * FLOAT, features=2 * acts.features * FLOAT if features else 0)


@dataclass(frozen=True)
class PackMemory:
    """Estimated peak device memory of a pack job, in bytes, by part."""

    parameters: int  # weights, gradients, momentum
    data: int  # inputs, labels and teacher logits resident on the device (and live teachers' weights and inputs)
    training: int  # one training step's activations and gradient buffers (and live teachers' forward and features)
    evaluation: int  # one evaluation pass
    eval_rows: int

    @property
    def peak(self) -> int:
        return self.parameters + self.data + max(self.training, self.evaluation)

    def describe(self) -> str:
        gib = lambda b: f"{b / 2**30:.2f} GiB"  # noqa: E731
        return (f"estimated peak device memory {gib(self.peak)} (parameters and optimizer {gib(self.parameters)}, "
                f"data {gib(self.data)}, training step {gib(self.training)}, evaluation {gib(self.evaluation)} "
                f"at {self.eval_rows} rows per pass)")


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """The activations of ``arch``'s family (its shape walk in the model registry)."""
    return family_of(arch).load("activations")(arch, in_channels, positions)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    """The parameter count of ``arch``'s family, without building the model."""
    return family_of(arch).load("parameters")(arch, in_channels, dims, num_classes)


def eval_rows(acts: Activations, members: int, budget: int = EVAL_BUDGET) -> int:
    """Rows per evaluation pass: as many as fit ``budget`` for all members, 1 … ``EVAL_ROWS_MAX``."""
    per_row = acts.eval_peak * members * FLOAT
    return max(1, min(EVAL_ROWS_MAX, budget // per_row))


def pack_memory(arch: str, in_channels: int, positions: tuple[int, ...], members: int, batch_size: int,
                parameters: int, data_bytes: int = 0, live=()) -> PackMemory:
    """The estimate for ``members`` fused runs of ``arch`` (``parameters``: one member's count); ``live``:
    the :class:`LiveTeacherMemory` of each teacher run live (then the student's features are copied too)."""
    acts = activations(arch, in_channels, positions)
    rows = eval_rows(acts, members)
    step = batch_size * members * (acts.saved + BACKWARD_BUFFERS * acts.largest) * FLOAT
    if any(t.features for t in live):  # the losses' per-member copies of the student's stage outputs
        step += batch_size * members * acts.features * FLOAT
    step += batch_size * members * sum(t.forward + t.features for t in live)
    evaluation = rows * members * acts.eval_peak * FLOAT
    return PackMemory(parameters=3 * parameters * members * FLOAT,
                      data=data_bytes + sum(t.parameters + t.inputs for t in live), training=step,
                      evaluation=evaluation, eval_rows=rows)


def widest(peak_at_width, budget: float, most: int = 4096) -> int:
    """The widest pack, 1 … ``most``, whose ``peak_at_width(width)`` stays within ``budget`` (at least 1).

    Peaks grow with the width, so the first width over the budget ends the search.
    """
    width = 1
    while width < most and peak_at_width(width + 1) <= budget:
        width += 1
    return width


def wrn_parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    """A Wide ResNet's parameter count (convolutions, batch norm, classifier), without building it."""
    args = arch_args(arch)
    n, k = (args["depth"] - 4) // 6, args["width"]
    kernel = 3 ** dims
    total = in_channels * 16 * kernel
    channels = 16
    for out_channels, stride in zip((16 * k, 32 * k, 64 * k), (1, 2, 2)):
        for block in range(n):
            total += 2 * channels + channels * out_channels * kernel  # bn1, conv1
            total += 2 * out_channels + out_channels * out_channels * kernel  # bn2, conv2
            if block == 0 and (stride != 1 or channels != out_channels):
                total += channels * out_channels  # the 1×1 shortcut
            channels = out_channels
    return total + 2 * channels + channels * num_classes + num_classes


def resnet_activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """A CIFAR ResNet's activations: the stem's input, convolution output and ReLU output; per post-activation
    block its two convolutions' outputs (batch norm), the first ReLU's output, the shortcut convolution's output
    (where there is one) and the block's ReLU output; the pooled embedding."""
    n = (arch_args(arch)["depth"] - 2) // 6
    size = math.prod(positions)
    saved = in_channels * size + 2 * 16 * size
    largest, eval_peak = 16 * size, (in_channels + 2 * 16) * size
    channels, features = 16, 0
    for out_channels, stride in zip((16, 32, 64), (1, 2, 2)):
        for block in range(n):
            out_positions = _downsample(positions, stride if block == 0 else 1)
            before, after = channels * math.prod(positions), out_channels * math.prod(out_positions)
            shortcut = block == 0 and (stride != 1 or channels != out_channels)
            saved += (4 + shortcut) * after
            largest = max(largest, before, after)
            eval_peak = max(eval_peak, before + (2 + shortcut) * after)
            channels, positions = out_channels, out_positions
        features += channels * math.prod(positions)
    return Activations(saved + channels, largest, eval_peak, features + channels)


def resnet_parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    n = (arch_args(arch)["depth"] - 2) // 6
    kernel = 3 ** dims
    total, channels = in_channels * 16 * kernel + 2 * 16, 16
    for out_channels, stride in zip((16, 32, 64), (1, 2, 2)):
        for block in range(n):
            total += channels * out_channels * kernel + out_channels * out_channels * kernel + 4 * out_channels
            if block == 0 and (stride != 1 or channels != out_channels):
                total += channels * out_channels + 2 * out_channels  # the 1×1 shortcut and its batch norm
            channels = out_channels
    return total + channels * num_classes + num_classes


INDEX = 2  # max pooling saves its argmax as int64: two float32s an element


def vgg_activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """A VGG's activations: each convolution's input (the first: the model's input; then a ReLU's or pooling's
    output), its output (batch norm) and its ReLU's output; each pooling's argmax; the pooled embedding."""
    blocks = arch_args(arch)["blocks"]
    size = math.prod(positions)
    saved, largest, eval_peak = in_channels * size, 0, 0
    channels, stage_outputs = in_channels, []
    for index, widths in enumerate(blocks):
        if index:  # max pooling by 2 (ceil mode): its input is the last ReLU's output, saved already
            pooled = _downsample(positions, 2)
            saved += (1 + INDEX) * channels * math.prod(pooled)  # its output (the next conv's input), argmax
            positions = pooled
        for out_channels in widths:
            before, after = channels * math.prod(positions), out_channels * math.prod(positions)
            saved += 2 * after
            largest = max(largest, after)
            eval_peak = max(eval_peak, before + 2 * after)
            channels = out_channels
        stage_outputs.append(channels * math.prod(positions))
    features = sum(stage_outputs[-3:])
    return Activations(saved + channels, largest, eval_peak, features + channels)


def vgg_parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    kernel = 3 ** dims
    total, channels = 0, in_channels
    for widths in arch_args(arch)["blocks"]:
        for out_channels in widths:
            total += channels * out_channels * kernel + 2 * out_channels
            channels = out_channels
    return total + channels * num_classes + num_classes


def mobilenetv2_activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """A MobileNetV2's activations: the stem's input, convolution output and ReLU output; per inverted residual
    block its input (where no ReLU saved it: every block but the first), the expansion's output and ReLU output,
    the depthwise convolution's output and ReLU output and the projection's output; the head's input,
    convolution output and ReLU output; the pooled embedding."""
    stem, groups, head = mobilenetv2_plan(arch_args(arch)["width"])
    size = math.prod(positions)
    positions = _downsample(positions, 2)
    saved = in_channels * size + 2 * stem * math.prod(positions)
    largest = eval_peak = stem * math.prod(positions)
    channels, first, stage_outputs = stem, True, []
    for group in groups:
        for expansion, out_channels, stride in group:
            hidden, before = channels * expansion, math.prod(positions)
            out_positions = _downsample(positions, stride)
            after = math.prod(out_positions)
            saved += (0 if first else channels * before) + 2 * hidden * before + 2 * hidden * after \
                + out_channels * after
            largest = max(largest, hidden * before)
            eval_peak = max(eval_peak, channels * before + 2 * hidden * before)
            channels, positions, first = out_channels, out_positions, False
        stage_outputs.append(channels * math.prod(positions))
    last = math.prod(positions)
    saved += channels * last + 2 * head * last + head
    largest, eval_peak = max(largest, head * last), max(eval_peak, (channels + 2 * head) * last)
    return Activations(saved, largest, eval_peak, sum(stage_outputs[-3:]) + head)


def mobilenetv2_parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    stem, groups, head = mobilenetv2_plan(arch_args(arch)["width"])
    kernel = 3 ** dims
    total, channels = in_channels * stem * kernel + 2 * stem, stem
    for group in groups:
        for expansion, out_channels, _ in group:
            hidden = channels * expansion
            total += channels * hidden + 2 * hidden + hidden * kernel + 2 * hidden + hidden * out_channels \
                + 2 * out_channels
            channels = out_channels
    return total + channels * head + 2 * head + head * num_classes + num_classes


def _patches(arch: str, positions: tuple[int, ...]) -> int:
    args = arch_args(arch)
    (length,) = positions
    return (length - args["patch"]) // args["stride"] + 1


def transformer_activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """A patch Transformer's activations, per layer: each layer norm's input, normalised input, output (its affine
    step's) and statistics; q, k and v (members folded into the batch); the attention weights; the attention's
    output (a copy, token-major again); the MLP's hidden activations (GELU input and output). Then the embedding's
    input, the final norm's input, normalised input and statistics, and the pooled embedding."""
    args = arch_args(arch)
    n, dim, heads, hidden = _patches(arch, positions), args["dim"], max(1, args["dim"] // 16), 2 * args["dim"]
    tokens = n * dim
    norm = 3 * tokens + 2 * n
    per_layer = 2 * norm + 3 * tokens + heads * n * n + tokens + 2 * hidden * n
    saved = in_channels * positions[0] + args["layers"] * per_layer + 2 * tokens + 2 * n + dim
    largest = max(heads * n * n, hidden * n, 3 * tokens)
    eval_peak = 2 * heads * n * n + 6 * tokens + hidden * n
    return Activations(saved, largest, eval_peak, min(3, args["layers"]) * tokens + dim)


def transformer_parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    args = arch_args(arch)
    dim, hidden = args["dim"], 2 * args["dim"]
    layer = 4 * dim + 3 * dim * dim + 3 * dim + dim * dim + dim + dim * hidden + hidden + hidden * dim + dim
    return in_channels * dim * args["patch"] + dim + args["max_patches"] * dim + args["layers"] * layer + 2 * dim \
        + dim * num_classes + num_classes
