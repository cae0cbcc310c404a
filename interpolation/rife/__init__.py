"""RIFE IFNet HDv3, the interpolator ControlVideo ships (checkpoints/flownet.pkl): network, loader, INTERPOLATOR."""

from .interpolator import RifeInterpolator
from .loading import RifeFileError, load_rife

__all__ = ["RifeFileError", "RifeInterpolator", "load_rife"]
