"""skiptrain: cheaper on-device CNN training with an Early Instance Filter and
Error Map Pruning (Wu et al., arXiv 2007.03213), backed by one C++ core.

Example:
    >>> import skiptrain
    >>> model = skiptrain.models.make_model("lenet5", in_channels=1, image_size=28, num_classes=10)
    >>> table = skiptrain.cost.count(model, (1, 1, 28, 28))
"""
from skiptrain._library import load_library

load_library()

from skiptrain import _fake  # noqa: E402,F401  (fake kernels: torch.compile, FakeTensor, opcheck)

from skiptrain import ops, nn, emp, quant  # noqa: E402,F401

from skiptrain.filter import EarlyInstanceFilter  # noqa: E402,F401

from skiptrain import cost, models  # noqa: E402,F401

import torch as _torch  # noqa: E402

__version__ = _torch.ops.skiptrain.version()
