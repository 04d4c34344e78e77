"""The networks the build trains and exports: MobileNetV2 features (torchvision's layout, so
state-dict keys match), mask-recognition's stock classifier, and its factorised head."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """torchvision's MobileNetV2 block, same module layout so state-dict keys match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [conv_bn_relu(cin, hidden, 1)]
        layers += [conv_bn_relu(hidden, hidden, 3, stride, hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


# (expansion, channels, repeats, first stride) as in torchvision.models.mobilenet_v2
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2_features() -> nn.Sequential:
    layers: list[nn.Module] = [conv_bn_relu(3, 32, 3, 2)]
    cin = 32
    for expand, cout, repeats, stride in MOBILENET_V2_SETTINGS:
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers.append(conv_bn_relu(cin, 1280, 1))
    return nn.Sequential(*layers)


class PooledFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = mobilenet_v2_features()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))


class StockMaskModel(nn.Module):
    """mask_recognition.networks.RecognitionModel without torchvision (log-probabilities)."""

    def __init__(self) -> None:
        super().__init__()
        self.bottom = mobilenet_v2_features()
        self.top = nn.Sequential(nn.Linear(1280 * 4 * 4, 256), nn.ReLU(),
                                 nn.Linear(256, 2), nn.LogSoftmax(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(self.bottom(x).flatten(1))


class MaskModel(nn.Module):
    """Stock model with its first head layer replaced by a rank-r factorisation; logits."""

    def __init__(self, stock: StockMaskModel, rank: int) -> None:
        super().__init__()
        self.bottom = stock.bottom
        weight, bias = stock.top[0].weight.data, stock.top[0].bias.data
        u, s, vh = torch.linalg.svd(weight, full_matrices=False)
        self.reduce = nn.Linear(weight.shape[1], rank, bias=False)
        self.expand = nn.Linear(rank, weight.shape[0])
        self.reduce.weight.data = (torch.diag(s[:rank].sqrt()) @ vh[:rank]).contiguous()
        self.expand.weight.data = (u[:, :rank] @ torch.diag(s[:rank].sqrt())).contiguous()
        self.expand.bias.data = bias.clone()
        self.out = stock.top[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.expand(self.reduce(self.bottom(x).flatten(1))))
        return self.out(hidden)


class WithSoftmax(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)
