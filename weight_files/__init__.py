"""What a weights file really is, found before anything in it is unpickled (pure: no ComfyUI).

Shared by the motion-module and RIFE loaders: Git LFS pointers and JSON error pages saved in
place of the model, damaged PyTorch archives, and pickles that carry code are each named for
what they are, so the user gets the right fix instead of one catch-all refusal.
"""

from .stand_ins import reject_text_stand_in
from .torch_files import load_weights_only
from .unusable import UnusableWeights

__all__ = ["UnusableWeights", "load_weights_only", "reject_text_stand_in"]
