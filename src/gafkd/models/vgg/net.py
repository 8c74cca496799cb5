"""VGG with batch norm (Simonyan & Zisserman 2015), as RepDistiller sizes it for CIFAR, for 1-D and 2-D inputs.

VGG-8: five blocks of 3×3 (or 3) convolution-BN-ReLU with 64, 128, 256, 512, 512 channels (one convolution
each; vgg11 and vgg13 have more), max pooling by 2 between blocks, global average pooling and
one linear classifier (RepDistiller's VGG has no fully connected stack; the blocks:
:data:`gafkd.models.vgg.BLOCKS`). The stem is the first block; the
stages are the other four, each a pooling and a block; feature losses read the last three. Pooling uses ceil
mode, so short windows and small images keep at least one position. ``members`` fuse as every family does.
"""

from __future__ import annotations

from torch import nn

from . import BLOCKS, args
from ..layers import FusedNet, MaxPool, classifier, fused_layers

class VGG(FusedNet):
    def __init__(self, depth: int, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1):
        super().__init__(num_classes, in_channels, dims, members)
        conv, norm = fused_layers(dims, members)
        self.depth = depth
        blocks = BLOCKS[depth]

        def block(in_ch, widths):
            layers = []
            for out_ch in widths:
                layers += [conv(in_ch, out_ch, 3, padding=1), norm(out_ch), nn.ReLU()]
                in_ch = out_ch
            return layers, in_ch

        layers, in_ch = block(in_channels, blocks[0])
        self.stem = nn.Sequential(*layers)
        stages = []
        for widths in blocks[1:]:
            layers, in_ch = block(in_ch, widths)
            stages.append(nn.Sequential(MaxPool(dims), *layers))
        self.stages = nn.ModuleList(stages)
        self.fc = classifier(members, in_ch, num_classes)
        self.init_weights()


def build(arch: str, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1) -> VGG:
    return VGG(args(arch)["depth"], num_classes, in_channels, dims, members)
