"""``EMPConv2d``: a drop-in ``torch.nn.Conv2d`` whose backward is Error Map Pruning."""
import torch

from skiptrain import _checks, ops


class EMPConv2d(torch.nn.Conv2d):
    """``torch.nn.Conv2d`` (same parameters, same ``state_dict`` keys) whose backward, while
    training with ``keep < 1``, only computes gradients for the ``ceil(keep*out_channels)``
    best-scoring output channels (``skiptrain.ops.emp_conv2d``). In eval mode, under
    ``torch.no_grad()`` or with ``keep == 1`` it is exactly ``torch.nn.Conv2d``.

    Args:
        *args, **kwargs: as for ``torch.nn.Conv2d`` (``padding_mode`` must be ``'zeros'``).
        keep: kept fraction of output channels in (0, 1].
        gamma1: weight of the filter-norm term of the channel score.
        gamma2: weight of the error-map-norm term of the channel score.

    Returns:
        A module; ``forward(x)`` returns ``[N, C_out, H_out, W_out]``.

    Example:
        >>> conv = EMPConv2d(16, 32, 3, padding=1, keep=0.5)
        >>> conv(torch.randn(4, 16, 8, 8)).sum().backward()
    """

    def __init__(self, *args, keep=1.0, gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise ValueError(f"EMPConv2d: padding_mode={self.padding_mode!r} is not supported, only 'zeros'")
        self.keep, self.gamma1, self.gamma2 = ops._settings("EMPConv2d", keep, gamma1, gamma2)

    @classmethod
    def from_conv(cls, conv, keep=1.0, gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2):
        """Builds an EMPConv2d that shares ``conv``'s parameters and buffers.

        Args:
            conv: a ``torch.nn.Conv2d``.
            keep, gamma1, gamma2: EMP settings.

        Returns:
            EMPConv2d (``conv.weight`` and ``conv.bias`` are the same Parameter objects).

        Example:
            >>> emp = EMPConv2d.from_conv(torch.nn.Conv2d(3, 8, 3), keep=0.5)
        """
        if not isinstance(conv, torch.nn.Conv2d):
            raise TypeError(f"EMPConv2d.from_conv: conv must be a torch.nn.Conv2d, got {type(conv).__name__}")
        settings = ops._settings("EMPConv2d", keep, gamma1, gamma2)
        if conv.padding_mode != "zeros":
            raise ValueError(f"EMPConv2d: padding_mode={conv.padding_mode!r} is not supported, only 'zeros'")
        if isinstance(conv.padding, str):
            raise ValueError(f"EMPConv2d: string padding {conv.padding!r} is not supported; use explicit padding")
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        new.__dict__.update({k: v for k, v in conv.__dict__.items()
                             if k not in ("_parameters", "_buffers", "_modules")})
        new._parameters = conv._parameters
        new._buffers = conv._buffers
        new._modules = conv._modules
        new.keep, new.gamma1, new.gamma2 = settings
        return new

    def forward(self, input):
        _checks.tensor("EMPConv2d", "input", input, "[N, C_in, H, W] or [C_in, H, W]", dims=(3, 4), floating=True)
        # The device only: under autocast the input's dtype differs from the weight's on purpose.
        if input.device != self.weight.device:
            raise ValueError(f"EMPConv2d: input is on {input.device} but the weight is on {self.weight.device}")
        if input.shape[-3] != self.in_channels:
            raise ValueError(f"EMPConv2d: input must have {self.in_channels} channels (dim -3), got shape "
                             f"{list(input.shape)}")
        if self.keep < 1.0 and self.training and torch.is_grad_enabled():
            if isinstance(self.padding, str):
                raise ValueError("EMPConv2d: string padding is not supported while pruning")
            return torch.ops.skiptrain.emp_conv2d(
                input, self.weight, self.bias, list(self.stride), list(self.padding), list(self.dilation),
                self.groups, self.keep, self.gamma1, self.gamma2)
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self):
        return super().extra_repr() + f", keep={self.keep}, gamma1={self.gamma1}, gamma2={self.gamma2}"

