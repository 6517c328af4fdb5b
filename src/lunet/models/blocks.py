"""Small building blocks shared by the lunet networks.

Every block keeps the spatial size unless it says otherwise (3×3 convolutions use padding 1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: U-Net1 has 5 poolings, so every network needs height and width divisible by 2**5.
SIZE_MULTIPLE = 32


class InputShapeError(ValueError):
    """A network got an input it cannot process (wrong rank, channel count or spatial size)."""


def check_input(
    x: Tensor, name: str, channels: int = 1, multiple: int = SIZE_MULTIPLE, min_size: int = 32
) -> None:
    """Raise :class:`InputShapeError` unless ``x`` is ``(B, channels, H, W)``, H and W divisible by it.

    Args:
        x: the network input.
        name: the network's name, used in the message.
        channels: the expected channel count.
        multiple: H and W must be divisible by this (32 for the 5 poolings of U-Net1).
        min_size: smallest H and W accepted.
    """
    if x.ndim != 4:
        raise InputShapeError(
            f"{name}: expected an input of shape (B, {channels}, H, W), got {tuple(x.shape)}"
        )
    _, c, h, w = x.shape
    if c != channels:
        raise InputShapeError(
            f"{name}: expected {channels} input channel(s), got {c} (input shape {tuple(x.shape)})"
        )
    if h % multiple or w % multiple or h < min_size or w < min_size:
        raise InputShapeError(
            f"{name}: height and width must be multiples of {multiple} and at least {min_size} pixels, "
            f"got {h}×{w}; resize or pad the image (e.g. to 256×256)"
        )


class ConvBNReLU(nn.Sequential):
    """3×3 convolution (no bias) → BatchNorm → ReLU. ``(B, c_in, H, W) → (B, c_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two :class:`ConvBNReLU`: the unit of every U-Net level. ``(B, c_in, H, W) → (B, c_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(ConvBNReLU(c_in, c_out), ConvBNReLU(c_out, c_out))


class Encoder(nn.Module):
    """U-Net encoder: level 0 at full resolution, then max-pool ×2 before each further level.

    Args:
        in_channels: input channels.
        filters: channels of each level, finest first; ``len(filters) - 1`` poolings.
    """

    def __init__(self, in_channels: int, filters: tuple[int, ...]) -> None:
        super().__init__()
        chans = (in_channels, *filters)
        self.levels = nn.ModuleList(DoubleConv(chans[i], chans[i + 1]) for i in range(len(filters)))
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> list[Tensor]:
        """``(B, in, H, W)`` → features of every level, finest first: ``(B, filters[k], H/2^k, W/2^k)``."""
        features = []
        for k, level in enumerate(self.levels):
            x = level(x if k == 0 else self.pool(x))
            features.append(x)
        return features


def upsample2(x: Tensor) -> Tensor:
    """Nearest-neighbour ×2 upsampling (parameter-free, ONNX-friendly). ``(B, C, H, W) → (B, C, 2H, 2W)``."""
    return nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")


class Decoder(nn.Module):
    """U-Net decoder: ×2 upsampling, concatenation with the skip, :class:`DoubleConv`; mirrors the encoder.

    Args:
        filters: the encoder's filters, finest first; the decoder level ``k`` outputs ``filters[k]`` channels.
    """

    def __init__(self, filters: tuple[int, ...]) -> None:
        super().__init__()
        n = len(filters)
        # levels[k] produces level k (k = n-2 … 0) from level k+1 upsampled ⊕ skip k.
        self.levels = nn.ModuleList(DoubleConv(filters[k + 1] + filters[k], filters[k]) for k in range(n - 1))

    def forward(self, features: list[Tensor]) -> Tensor:
        """Encoder features (finest first) → ``(B, filters[0], H, W)``."""
        x = features[-1]
        for k in range(len(features) - 2, -1, -1):
            x = self.levels[k](torch.cat([upsample2(x), features[k]], dim=1))
        return x


def disk_kernel(radius: int) -> Tensor:
    """Disk footprint ``x² + y² ≤ radius²``: float ``(2r+1, 2r+1)`` tensor of 0/1 (as skimage's ``disk``)."""
    r = int(radius)
    coords = torch.arange(-r, r + 1, dtype=torch.float32)
    return ((coords[:, None] ** 2 + coords[None, :] ** 2) <= r * r).float()


def parametric_sigmoid(x: Tensor, slope: float, shift: float) -> Tensor:
    """RU-Net eq. (1): ``1 / (1 + exp(-slope · (x - shift)))``, elementwise."""
    return torch.sigmoid(slope * (x - shift))


def adaptive_pool_matrix(n_in: int, n_out: int, ref: Tensor | None = None) -> Tensor:
    """``(n_out, n_in)`` averaging matrix of adaptive average pooling along one axis (PyTorch's bins).

    Output ``i`` averages inputs ``floor(i·n_in/n_out) … ceil((i+1)·n_in/n_out) - 1``.
    """
    device = ref.device if ref is not None else None
    dtype = ref.dtype if ref is not None else torch.float32
    matrix = torch.zeros(n_out, n_in, device=device, dtype=dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class AdaptiveAvgPool(nn.Module):
    """Adaptive average pooling to a fixed ``(rows, cols)`` grid, as two matrix products.

    Same result as ``nn.AdaptiveAvgPool2d`` for every input size, but it exports to ONNX at any input size
    (the ONNX exporter only supports output sizes that divide the input size).
    ``(B, C, H, W) → (B, C, rows, cols)``.
    """

    def __init__(self, grid: tuple[int, int]) -> None:
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))

    def forward(self, x: Tensor) -> Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        if (h, w) == self.grid:
            return x
        rows = adaptive_pool_matrix(h, self.grid[0], x)
        cols = adaptive_pool_matrix(w, self.grid[1], x)
        return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))
