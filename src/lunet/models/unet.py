"""U-Net1: the CAMUS baseline U-Net (Leclerc et al., IEEE TMI 2019, "U-Net 1").

Encoder filters 32, 32, 64, 128, 128, 128 (6 levels, 5 max-poolings ×2), two 3×3 convolutions with
BatchNorm and ReLU per level, a decoder with nearest ×2 upsampling and skip concatenation whose levels
mirror the encoder's filters, and a 1×1 convolution to the 4 classes (BG, LV, MYO, LA). The network
returns logits; softmax lives in the loss and in prediction.

Parameter count: 1.99 M (1 994 660) with 1 input channel (the paper reports 2M); see ``lunet models``.
"""

from __future__ import annotations

from torch import Tensor, nn

from lunet.data.labels import NUM_CLASSES
from lunet.models.blocks import Decoder, Encoder, check_input

#: Encoder filters of U-Net1, finest level first.
UNET1_FILTERS: tuple[int, ...] = (32, 32, 64, 128, 128, 128)


class UNet1(nn.Module):
    """U-Net1 segmentation network.

    Args:
        in_channels: input channels (1 for an image; SHG stages 2–3 take image ⊕ previous probabilities).
        num_classes: output channels (logits).
        filters: encoder filters, finest first; ``len(filters) - 1`` poolings.

    Shapes:
        ``(B, in_channels, H, W)`` → logits ``(B, num_classes, H, W)``, H and W multiples of 2**(levels-1).
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = NUM_CLASSES, filters: tuple[int, ...] = UNET1_FILTERS
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.filters = tuple(filters)
        self.encoder = Encoder(in_channels, self.filters)
        self.decoder = Decoder(self.filters)
        self.head = nn.Conv2d(self.filters[0], num_classes, kernel_size=1)

    @property
    def size_multiple(self) -> int:
        """H and W must be divisible by this."""
        return 2 ** (len(self.filters) - 1)

    def forward_features(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        """Encoder features (finest first; the last is the bottleneck) and the logits."""
        check_input(
            x,
            type(self).__name__,
            channels=self.in_channels,
            multiple=self.size_multiple,
            min_size=self.size_multiple,
        )
        features = self.encoder(x)
        return features, self.head(self.decoder(features))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_channels, H, W)`` → logits ``(B, num_classes, H, W)``."""
        return self.forward_features(x)[1]
