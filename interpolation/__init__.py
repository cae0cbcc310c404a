"""Frame interpolation: the frame halfway between two frames (ControlVideo's interleaved-frame smoother)."""

from .base import Interpolator, check_pair

__all__ = ["Interpolator", "check_pair"]
