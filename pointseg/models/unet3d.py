"""Seed 001's network: a No-New-Net style 3D U-Net (MONAI ``DynUNet`` configured to match).

No-New-Net (Isensee et al. 2018) is a plain 3D U-Net with instance normalisation and leaky ReLU: two
3x3x3 convolutions per level, strided-convolution down-sampling, transposed-convolution up-sampling and
concatenated skips, 30 base filters doubling per level, four down-samplings. Seed 001 changes only the
classification layer (one channel per bone) and uses a leak of 0.02. MONAI's ``DynUNet`` builds exactly
this from its kernel, stride and filter lists; nothing here is written by hand but the configuration.
"""

from __future__ import annotations

from typing import Sequence

from monai.networks.nets import DynUNet

NO_NEW_NET_FILTERS = (30, 60, 120, 240, 480)
LEAK = 0.02


class NoNewNet(DynUNet):
    """``num_classes`` output channels; ``filters`` per level (its length is the number of levels)."""

    def __init__(self, num_classes: int, filters: Sequence[int] = NO_NEW_NET_FILTERS, in_channels: int = 1,
                 leak: float = LEAK):
        levels = len(filters)
        strides = [1] + [2] * (levels - 1)
        super().__init__(
            spatial_dims=3, in_channels=in_channels, out_channels=num_classes, kernel_size=[3] * levels,
            strides=strides, upsample_kernel_size=strides[1:], filters=list(filters),
            norm_name=("INSTANCE", {"affine": True}), act_name=("leakyrelu", {"negative_slope": leak, "inplace": True}),
        )
        self.levels = levels

    @property
    def divisor(self) -> int:
        """What every patch size must be a multiple of."""
        return 2 ** (self.levels - 1)
