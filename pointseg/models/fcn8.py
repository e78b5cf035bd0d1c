"""VGG16-FCN8: the fully convolutional network of Long et al. (FCN-8s) on a VGG16 encoder.

The encoder repeats torchvision's ``vgg16().features`` layer for layer (same indices, so its state dict
loads as is); the classifier's fc6/fc7 become a 7 x 7 and a 1 x 1 convolution. Scores computed on fc7,
pool4 and pool3 are fused by two x2 and one x8 transposed convolutions that start as bilinear upsampling.

A ``width`` factor scales every channel count (1.0 is the paper's network) while keeping the topology,
so the same model runs in seconds on a CPU at width 0.0625 and as published at width 1.0.

Two options next to the paper's network (``batch_norm=False, output_stride=8, dropout=0.5``):

* ``batch_norm=True``: torchvision's ``vgg16_bn`` layout (conv, BatchNorm, ReLU), which trains from
  scratch in far fewer steps;
* ``output_stride=4`` or ``2``: FCN-8s' skip fusion carried on to pool2 (and pool1) with learnable
  bilinear-initialised x2 upsamplings, so the scores live on a grid 2 or 4 times finer. The last
  upsampling (x``output_stride``) stays fixed bilinear interpolation whatever the stride: a learnable one
  lets point supervision carve a dot pattern with the period of the stride.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

from pointseg.errors import InputError

VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"

# torchvision's VGG16 ("D") features: conv channels, "M" for a 2 x 2 max-pool.
VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)
FC_CHANNELS = 4096
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0) -> nn.Conv2d:
    """An uninitialised ``nn.Conv2d`` on the default device; the model initialises it once, itself.

    (PyTorch's own Kaiming-uniform init of fc6 alone takes seconds on a CPU and would be overwritten.)
    """
    return skip_init(nn.Conv2d, in_channels, out_channels, kernel_size, padding=padding,
                     device=torch.get_default_device())


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 1."""
    return max(1, int(round(channels * width)))


def vgg16_features(width: float = 1.0, batch_norm: bool = False) -> nn.Sequential:
    """VGG16's convolutional part, indexed as torchvision's ``vgg16().features`` (conv at 0, 2, 5, ... 28),
    or ``vgg16_bn().features`` with ``batch_norm`` (conv, BatchNorm2d, ReLU).

    The convolutions are left uninitialised (see :meth:`VGG16FCN8.reset_parameters`).

    Input ``(B, 3, H, W)`` → ``(B, 512 * width, H / 32, W / 32)`` for H, W multiples of 32.
    """
    layers: list[nn.Module] = []
    in_channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out_channels = scaled(int(item), width)
            layers.append(conv2d(in_channels, out_channels, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
            in_channels = out_channels
    return nn.Sequential(*layers)


OUTPUT_STRIDES = (8, 4, 2)
# Module name of the final fixed upsampling per output stride ("upscore8" as in FCN-8s; "upscore2" is
# already the first learnable x2 upsampling of the fc7 scores).
FINAL_UPSAMPLER = {8: "upscore8", 4: "upscore4", 2: "upscore_out2"}
VGG16_BN_WEIGHTS_FILE = "vgg16_bn-6c64b313.pth"


def get_upsampling_weight(in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
    """The classic FCN bilinear kernel ``(in, out, k, k)``: channel i maps to channel i only."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    grid = torch.arange(kernel_size, dtype=torch.float64)
    profile = 1 - (grid - center).abs() / factor
    kernel = (profile[:, None] * profile[None, :]).float()
    weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
    channels = torch.arange(min(in_channels, out_channels))
    weight[channels, channels] = kernel
    return weight


def bilinear_upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """Transposed convolution (k = 2 factor, s = factor, p = factor / 2) that starts as bilinear x factor.

    ``(B, C, h, w)`` → ``(B, C, factor h, factor w)``; away from the border it equals
    ``F.interpolate(scale_factor=factor, mode="bilinear", align_corners=False)``.
    """
    layer = nn.ConvTranspose2d(channels, channels, kernel_size=2 * factor, stride=factor, padding=factor // 2,
                               bias=False)
    with torch.no_grad():
        layer.weight.copy_(get_upsampling_weight(channels, channels, 2 * factor))
    return layer


class VGG16FCN8(nn.Module):
    """FCN-8s on VGG16 for CT slices.

    Input ``(B, 1, H, W)`` (or ``(B, 3, H, W)``) with values in [0, 1], any H, W; output the class
    scores (logits) ``(B, num_classes, H, W)``. A one-channel slice is repeated to three identical
    channels and normalised with the ImageNet mean/std, as the ImageNet weights expect.

    ``pretrained``: ``False`` (train from scratch), ``True`` (torchvision's VGG16 ImageNet weights from
    the torch hub cache) or the path of that file; see :func:`load_vgg16_imagenet`.
    ``batch_norm``, ``output_stride`` (8, 4 or 2) and ``dropout`` (on fc6 and fc7): see the module docstring.
    """

    input_multiple = 32

    def __init__(self, num_classes: int = 6, width: float = 1.0,
                 pretrained: bool | str | os.PathLike | None = False, batch_norm: bool = False,
                 output_stride: int = 8, dropout: float = 0.5):
        super().__init__()
        if int(num_classes) != num_classes or num_classes < 1:
            raise InputError(f"num_classes must be a positive integer, got {num_classes!r}")
        if not width > 0:
            raise InputError(f"width must be positive, got {width!r}")
        if output_stride not in OUTPUT_STRIDES:
            raise InputError(f"output_stride must be one of {OUTPUT_STRIDES}, got {output_stride!r}")
        if not 0 <= dropout < 1:
            raise InputError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.num_classes = int(num_classes)
        self.width = float(width)
        self.batch_norm = bool(batch_norm)
        self.output_stride = int(output_stride)
        fc = scaled(FC_CHANNELS, width)

        self.features = vgg16_features(width, batch_norm)
        pools = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        # Indices in ``features`` of pool1 ... pool5 and the channels after each.
        self.pool_indices = tuple(pools)
        channels = [scaled(c, width) for c in (64, 128, 256, 512, 512)]
        self.fc6 = conv2d(channels[4], fc, 7, padding=3)
        self.drop6 = nn.Dropout2d(dropout)
        self.fc7 = conv2d(fc, fc, 1)
        self.drop7 = nn.Dropout2d(dropout)
        self.score_fr = conv2d(fc, num_classes, 1)
        self.score_pool4 = conv2d(channels[3], num_classes, 1)
        self.score_pool3 = conv2d(channels[2], num_classes, 1)
        self.upscore2 = bilinear_upsampler(num_classes, 2)
        self.upscore_pool4 = bilinear_upsampler(num_classes, 2)
        if output_stride <= 4:
            self.upscore_pool3 = bilinear_upsampler(num_classes, 2)
            self.score_pool2 = conv2d(channels[1], num_classes, 1)
        if output_stride <= 2:
            self.upscore_pool2 = bilinear_upsampler(num_classes, 2)
            self.score_pool1 = conv2d(channels[0], num_classes, 1)
        final = bilinear_upsampler(num_classes, output_stride)
        # The final upsampling stays fixed bilinear interpolation (see the module docstring).
        final.weight.requires_grad_(False)
        self.add_module(FINAL_UPSAMPLER[output_stride], final)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.reset_head()
        if pretrained is False or pretrained is None:
            self.reset_encoder()
        elif pretrained is True:
            load_vgg16_imagenet(self)
        elif isinstance(pretrained, (str, os.PathLike)):
            load_vgg16_imagenet(self, pretrained)
        else:
            raise InputError(f"pretrained must be True, False or a path, got {pretrained!r}")

    @property
    def upscore_final(self) -> nn.ConvTranspose2d:
        """The fixed bilinear x``output_stride`` upsampling at the end."""
        return getattr(self, FINAL_UPSAMPLER[self.output_stride])

    def score_layers(self) -> list[nn.Conv2d]:
        names = ("score_fr", "score_pool4", "score_pool3", "score_pool2", "score_pool1")
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def upsamplers(self) -> list[nn.ConvTranspose2d]:
        names = ("upscore2", "upscore_pool4", "upscore_pool3", "upscore_pool2")
        return [getattr(self, n) for n in names if hasattr(self, n)] + [self.upscore_final]

    def encoder_convolutions(self) -> list[nn.Conv2d]:
        """conv1_1 ... conv5_3, fc6, fc7: the layers ImageNet weights initialise."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)] + [self.fc6, self.fc7]

    def reset_encoder(self) -> None:
        """Encoder as torchvision initialises VGG: Kaiming normal (fan-out), zero bias; BatchNorm 1 and 0."""
        for conv in self.encoder_convolutions():
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        for norm in self.features:
            if isinstance(norm, nn.BatchNorm2d):
                norm.reset_parameters()

    def reset_head(self) -> None:
        """Score layers zero, as in FCN; upsamplers bilinear."""
        for score in self.score_layers():
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)
        for layer in self.upsamplers():
            with torch.no_grad():
                layer.weight.copy_(get_upsampling_weight(self.num_classes, self.num_classes, layer.kernel_size[0]))

    def reset_parameters(self) -> None:
        """Back to the from-scratch initialisation."""
        self.reset_encoder()
        self.reset_head()

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1 | 3, H, W)`` in [0, 1] → ``(B, 3, H, W)`` normalised with the ImageNet mean/std."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise InputError(f"expected a (B, 1, H, W) or (B, 3, H, W) tensor, got shape {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1 | 3, H, W)`` in [0, 1] → logits ``(B, num_classes, H, W)``.

        The normalised input is zero-padded (the ImageNet mean) on the bottom/right to multiples of 32
        and the output cropped back.
        """
        height, width = x.shape[-2:]
        x = self.prepare_input(x)
        pad_h, pad_w = (-height) % self.input_multiple, (-width) % self.input_multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))

        pooled: dict[int, torch.Tensor] = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.pool_indices:
                pooled[self.pool_indices.index(index) + 1] = x
        x = self.drop6(F.relu(self.fc6(x), inplace=True))
        x = self.drop7(F.relu(self.fc7(x), inplace=True))

        x = self.upscore2(self.score_fr(x))  # (B, C, H/16, W/16)
        x = self.upscore_pool4(x + self.score_pool4(pooled[4]))  # (B, C, H/8, W/8)
        x = x + self.score_pool3(pooled[3])
        if self.output_stride <= 4:
            x = self.upscore_pool3(x) + self.score_pool2(pooled[2])  # (B, C, H/4, W/4)
        if self.output_stride <= 2:
            x = self.upscore_pool2(x) + self.score_pool1(pooled[1])  # (B, C, H/2, W/2)
        x = self.upscore_final(x)  # (B, C, H, W)
        return x[:, :, :height, :width]


def hub_weights_path(weights_file: str = VGG16_WEIGHTS_FILE) -> Path:
    """Where torchvision keeps ``weights_file`` in the torch hub cache (it may not be there)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights_file


def load_vgg16_imagenet(model: VGG16FCN8, path: str | os.PathLike | None = None) -> VGG16FCN8:
    """Load torchvision's VGG16 ImageNet state dict (``vgg16-397923af.pth``, or ``vgg16_bn-6c64b313.pth``
    for a ``batch_norm`` model) into ``model``'s encoder.

    ``features.*`` load as they are; ``classifier.0`` (fc6, Linear 4096 x 25088) and ``classifier.3``
    (fc7, Linear 4096 x 4096) are reshaped into the fc6 (4096, 512, 7, 7) and fc7 (4096, 4096, 1, 1)
    convolutions. The score and upsampling layers keep their initialisation. ``path`` defaults to the
    torch hub cache, ``<torch.hub.get_dir()>/checkpoints/vgg16-397923af.pth``; nothing is downloaded.
    """
    weights_file = VGG16_BN_WEIGHTS_FILE if model.batch_norm else VGG16_WEIGHTS_FILE
    path = Path(path) if path is not None else hub_weights_path(weights_file)
    if model.width != 1.0:
        raise InputError(f"ImageNet weights need width 1.0, the model has width {model.width}", path)
    if not path.is_file():
        raise InputError(
            f"not found; place torchvision's VGG16 ImageNet weights there ({weights_file}) "
            "or train from scratch with pretrained=False", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file
        raise InputError(f"cannot read as a VGG16 state dict: {error}", path) from error
    if not isinstance(state, dict):
        raise InputError("not a state dict", path)

    features = {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}
    fc6_weight, fc6_bias = state.get("classifier.0.weight"), state.get("classifier.0.bias")
    fc7_weight, fc7_bias = state.get("classifier.3.weight"), state.get("classifier.3.bias")
    if any(t is None for t in (fc6_weight, fc6_bias, fc7_weight, fc7_bias)):
        raise InputError("not a torchvision VGG16 state dict (classifier.0 / classifier.3 missing)", path)
    try:
        with torch.no_grad():
            model.features.load_state_dict(features, strict=True)
            model.fc6.weight.copy_(fc6_weight.reshape(model.fc6.weight.shape))
            model.fc6.bias.copy_(fc6_bias)
            model.fc7.weight.copy_(fc7_weight.reshape(model.fc7.weight.shape))
            model.fc7.bias.copy_(fc7_bias)
    except RuntimeError as error:  # missing keys or mismatched shapes
        raise InputError(f"not a torchvision VGG16 state dict: {error}", path) from error
    return model
