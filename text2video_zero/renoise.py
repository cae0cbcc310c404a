"""Forward diffusion from t0 back to t1, in the variance-preserving (DDPM) parametrisation."""

from __future__ import annotations

import torch


def reference_alpha(alphas_cumprod: torch.Tensor, t0: int, t1: int, exact: bool = False) -> float:
    """The signal factor a of x_t1 = sqrt(a) x_t0 + sqrt(1-a) eps.

    The reference multiplies the per-step alphas over [t0, t1): alphabar_{t1-1} / alphabar_{t0-1},
    one index off the exact alphabar_t1 / alphabar_t0. ``exact`` gives the latter.
    Computed in float64 from the cumulative product (alphas_t = alphabar_t / alphabar_{t-1}).
    """
    acp = alphas_cumprod.double()
    if exact:
        return float(acp[t1] / acp[t0])
    below = acp[t0 - 1] if t0 > 0 else torch.tensor(1.0, dtype=torch.float64)
    return float(acp[t1 - 1] / below)


def renoise(x: torch.Tensor, alpha: float, eps: torch.Tensor) -> torch.Tensor:
    """sqrt(a) x + sqrt(1 - a) eps (x and eps in DDPM scaling)."""
    return x * alpha ** 0.5 + eps * (1.0 - alpha) ** 0.5


def alphabar_of_sigma(sigma: torch.Tensor | float) -> torch.Tensor | float:
    """alphabar of an EPS model's sigma: ComfyUI samples x = x0 + sigma eps, which is the DDPM
    x_ddpm = sqrt(alphabar) x0 + sqrt(1 - alphabar) eps over sqrt(alphabar), so sigma^2 = (1 - alphabar) / alphabar."""
    return 1.0 / (1.0 + sigma ** 2)
