"""The model zoo in plain torch.nn, mirroring the C++ zoo (csrc/skiptrain/nn/).

Every model here has the same state_dict keys and shapes as its C++ twin, so checkpoints
written by the C++ trainer load into it, and the same layer names, so cost tables match.
Architectures (see the C++ headers for the reasons):

- ``lenet5``: conv5x5(6, padding (32-image_size)/2) - pool - conv5x5(16) - pool - fc 120 - 84 - classes.
- ``lenet-filter``: conv3x3/2(6, padding 1) - pool - conv3x3(16) - pool - fc 32 - classes.
- ``lenet-filter-slim``: the same at widths 4 / 8 / 16.
- ``resnet8`` ... ``resnet110``: CIFAR ResNets (He et al.), 6n+2 layers, option-A shortcuts.
- ``resnet8-slim``: ``resnet8`` at half width (8 / 16 / 32 channels), about a quarter of its MACs.
- ``vgg16``: VGG-16 (config D) with BatchNorm, bias-free convs, a single Linear(512, classes).
"""
import torch
import torch.nn.functional as F
from torch import nn

from skiptrain import _checks

__all__ = ["LeNet5", "LeNetFilter", "BasicBlock", "CifarResNet", "VGG16", "make_model", "model_names"]


def _conv_out(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def _check_spec(model, in_channels, image_size, num_classes):
    for name, value in (("in_channels", in_channels), ("image_size", image_size), ("num_classes", num_classes)):
        _checks.integer(model, name, value)
    if in_channels < 1 or image_size < 1 or num_classes < 1:
        raise ValueError(
            f"{model}: in_channels ({in_channels}), image_size ({image_size}) and "
            f"num_classes ({num_classes}) must be positive"
        )


def _check_images(model, images, in_channels, image_size=None):
    """images [N, in_channels, image_size, image_size] (any side when image_size is None)."""
    _checks.tensor(model, "images", images, floating=True)
    side = "H, W" if image_size is None else f"{image_size}, {image_size}"
    if images.dim() != 4 or images.shape[1] != in_channels or (
            image_size is not None and tuple(images.shape[2:]) != (image_size, image_size)):
        raise ValueError(f"{model}: images must have shape [N, {in_channels}, {side}], got shape {list(images.shape)}")


def _check_side(model, side, image_size):
    if side < 1:
        raise ValueError(f"{model}: image_size {image_size} is too small for its convolutions and pools")


class LeNet5(nn.Module):
    """LeNet-5, the paper's MNIST model.

    Args:
        in_channels: image channels (1 for MNIST).
        image_size: image side; images smaller than 32 are zero-padded up to 32 by conv1.
        num_classes: outputs.

    Returns (forward):
        logits ``[N, num_classes]`` for images ``[N, C, H, W]``.

    Example:
        >>> LeNet5(1, 28, 10)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_channels=1, image_size=28, num_classes=10):
        super().__init__()
        _check_spec("lenet5", in_channels, image_size, num_classes)
        padding = (32 - image_size) // 2 if image_size < 32 else 0
        side = _conv_out(image_size, 5, 1, padding) // 2
        side = _conv_out(side, 5) // 2
        _check_side("lenet5", side, image_size)
        self.in_channels, self.image_size = in_channels, image_size
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=padding)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, images):
        _check_images("lenet5", images, self.in_channels, self.image_size)
        x = F.max_pool2d(F.relu(self.conv1(images)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LeNetFilter(nn.Module):
    """The paper's MNIST Early Instance Filter: a slim LeNet with 3x3 kernels and 6/16 filters.

    conv3x3 stride 2 (conv1, padding 1) - relu - pool - conv3x3 (conv2) - relu - pool -
    fc(conv2*s*s, hidden) - relu - fc(hidden, num_classes); s = 2 for 28x28 inputs. At the default
    widths 6/16/32 (``lenet-filter``) about 8% of LeNet-5's forward MACs; ``lenet-filter-slim`` is
    4/8/16, about 3.6%.

    Args:
        in_channels: image channels.
        image_size: image side.
        num_classes: outputs (2 for a filter: High / Low loss).
        widths: (conv1 filters, conv2 filters, fc1 units).
        name: the zoo name, for error messages.

    Returns (forward):
        logits ``[N, num_classes]``.

    Example:
        >>> LeNetFilter(1, 28, 2)(torch.zeros(1, 1, 28, 28)).shape
        torch.Size([1, 2])
    """

    def __init__(self, in_channels=1, image_size=28, num_classes=2, widths=(6, 16, 32), name="lenet-filter"):
        super().__init__()
        _check_spec(name, in_channels, image_size, num_classes)
        side = _conv_out(image_size, 3, 2, 1) // 2
        side = _conv_out(side, 3) // 2
        _check_side(name, side, image_size)
        conv1, conv2, hidden = widths
        self.model_name, self.in_channels, self.image_size = name, in_channels, image_size
        self.conv1 = nn.Conv2d(in_channels, conv1, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(conv1, conv2, 3)
        self.fc1 = nn.Linear(conv2 * side * side, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, images):
        _check_images(self.model_name, images, self.in_channels, self.image_size)
        x = F.max_pool2d(F.relu(self.conv1(images)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN with an option-A shortcut (stride subsample + zero channel padding).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first conv and of the shortcut's subsampling.

    Returns (forward):
        ``[N, out_channels, H/stride, W/stride]``.

    Example:
        >>> BasicBlock(16, 32, 2)(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x
        if self.stride != 1:
            shortcut = shortcut[:, :, :: self.stride, :: self.stride]
        if self.out_channels != self.in_channels:
            extra = self.out_channels - self.in_channels
            shortcut = F.pad(shortcut, (0, 0, 0, 0, extra // 2, extra - extra // 2))
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    """CIFAR ResNet of He et al. with 6n+2 layers (n = ``blocks_per_stage``).

    conv1 (3x3, w) - bn1 - relu - layer1 (w) - layer2 (2w, /2) - layer3 (4w, /2) - global
    average pool - fc(4w, classes), w = ``base_width``. Convs: Kaiming-normal (fan_out, ReLU), no
    bias; BN weight 1, bias 0.

    Args:
        blocks_per_stage: n; 1 gives ResNet-8 (the CIFAR filter), 18 gives ResNet-110.
        in_channels: image channels.
        image_size: image side (any; the pool is global).
        num_classes: outputs.
        base_width: w, the first stage's channels: 16 in the paper, 8 for ``resnet8-slim``.
        name: the zoo name, for error messages (None: ``resnet<6n+2>``).

    Returns (forward):
        logits ``[N, num_classes]``.

    Example:
        >>> CifarResNet(3, 3, 32, 10)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, blocks_per_stage, in_channels=3, image_size=32, num_classes=10, base_width=16, name=None):
        super().__init__()
        if _checks.integer("CIFAR ResNet", "blocks_per_stage", blocks_per_stage) < 1:
            raise ValueError(f"CIFAR ResNet: blocks per stage must be >= 1, got {blocks_per_stage}")
        self.blocks_per_stage = blocks_per_stage
        self.model_name = f"resnet{self.depth}" if name is None else name
        if _checks.integer(self.model_name, "base_width", base_width) < 1:
            raise ValueError(f"{self.model_name}: base width must be >= 1, got {base_width}")
        _check_spec(self.model_name, in_channels, image_size, num_classes)
        self.in_channels, self.base_width = in_channels, base_width
        w = base_width
        self.conv1 = nn.Conv2d(in_channels, w, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.layer1 = self._stage(w, w, 1)
        self.layer2 = self._stage(w, 2 * w, 2)
        self.layer3 = self._stage(2 * w, 4 * w, 2)
        self.fc = nn.Linear(4 * w, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def depth(self):
        """6n + 2."""
        return 6 * self.blocks_per_stage + 2

    def _stage(self, in_channels, out_channels, stride):
        blocks = [BasicBlock(in_channels if i == 0 else out_channels, out_channels, stride if i == 0 else 1)
                  for i in range(self.blocks_per_stage)]
        return nn.Sequential(*blocks)

    def forward(self, images):
        _check_images(self.model_name, images, self.in_channels)
        x = F.relu(self.bn1(self.conv1(images)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


_VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG16(nn.Module):
    """VGG-16 (config D) with BatchNorm for CIFAR and a single Linear(512*s*s, classes), s = image_size/32.

    Args:
        in_channels: image channels.
        image_size: image side, at least 32.
        num_classes: outputs.

    Returns (forward):
        logits ``[N, num_classes]``.

    Example:
        >>> VGG16(3, 32, 10)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_channels=3, image_size=32, num_classes=10):
        super().__init__()
        _check_spec("vgg16", in_channels, image_size, num_classes)
        if image_size < 32:
            raise ValueError(f"vgg16: image_size {image_size} is too small; five 2x2 pools need at least 32")
        layers, channels, side = [], in_channels, image_size
        for c in _VGG16_CONFIG:
            if c == "M":
                layers.append(nn.MaxPool2d(2, 2))
                side //= 2
                continue
            conv = nn.Conv2d(channels, c, 3, padding=1, bias=False)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            layers += [conv, nn.BatchNorm2d(c), nn.ReLU()]
            channels = c
        self.features = nn.Sequential(*layers)
        self.in_channels, self.image_size = in_channels, image_size
        self.classifier = nn.Linear(channels * side * side, num_classes)

    def forward(self, images):
        _check_images("vgg16", images, self.in_channels, self.image_size)
        return self.classifier(self.features(images).flatten(1))


_MODELS = {
    "lenet5": LeNet5,
    "lenet-filter": LeNetFilter,
    "lenet-filter-slim": lambda c, s, k: LeNetFilter(c, s, k, widths=(4, 8, 16), name="lenet-filter-slim"),
    "resnet8": lambda c, s, k: CifarResNet(1, c, s, k),
    "resnet8-slim": lambda c, s, k: CifarResNet(1, c, s, k, base_width=8, name="resnet8-slim"),
    "resnet20": lambda c, s, k: CifarResNet(3, c, s, k),
    "resnet32": lambda c, s, k: CifarResNet(5, c, s, k),
    "resnet44": lambda c, s, k: CifarResNet(7, c, s, k),
    "resnet56": lambda c, s, k: CifarResNet(9, c, s, k),
    "resnet74": lambda c, s, k: CifarResNet(12, c, s, k),
    "resnet110": lambda c, s, k: CifarResNet(18, c, s, k),
    "vgg16": VGG16,
}


def model_names():
    """The names :func:`make_model` accepts, in the C++ zoo's order.

    Returns:
        list of str.

    Example:
        >>> model_names()[:2]
        ['lenet5', 'lenet-filter']
    """
    return list(_MODELS)


def make_model(name, in_channels=1, image_size=28, num_classes=10):
    """Builds a model of the zoo by name, as the C++ ``skiptrain::nn::make_model`` does.

    Args:
        name: one of :func:`model_names` (lenet5, lenet-filter, lenet-filter-slim, resnet8,
            resnet8-slim, resnet20/32/44/56/74/110, vgg16).
        in_channels: image channels (1 for MNIST, 3 for CIFAR).
        image_size: image side (28 for MNIST, 32 for CIFAR).
        num_classes: outputs (2 for a filter).

    Returns:
        torch.nn.Module mapping images ``[N, C, H, W]`` to logits ``[N, num_classes]``.

    Raises:
        ValueError: for an unknown name (listing the valid ones) or an unusable shape.

    Example:
        >>> model = make_model("resnet20", in_channels=3, image_size=32, num_classes=10)
        >>> model(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """
    if not isinstance(name, str):
        raise TypeError(f"make_model: name must be a str, got {type(name).__name__}")
    if name not in _MODELS:
        raise ValueError(f"unknown model '{name}' (--model); valid: {', '.join(_MODELS)}")
    return _MODELS[name](in_channels, image_size, num_classes)
