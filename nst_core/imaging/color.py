"""Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving Color in Neural
Artistic Style Transfer"): either transfer luminance only and keep the content's chroma, or match
the style image's colour statistics to the content's before optimizing.

All functions take and return NCHW tensors; RGB values in [0, 1].
"""
from __future__ import annotations

import torch

from .device_constants import constant

# RGB -> YIQ (NTSC 1953), the space Gatys et al. use in the colour paper.
_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                     [0.595716, -0.274453, -0.321263],
                     [0.211456, -0.522591, 0.311135]])
# RGB -> YCbCr (ITU-R BT.601, full range, chroma centred on 0 here instead of 0.5).
_YCBCR = torch.tensor([[0.299, 0.587, 0.114],
                       [-0.168736, -0.331264, 0.5],
                       [0.5, -0.418688, -0.081312]])
SPACES = {"yiq": _YIQ, "ycbcr": _YCBCR}


def _matrix(space: str, like: torch.Tensor, kind: str = "to") -> torch.Tensor:
    """The space's RGB -> space matrix ("to"), its inverse ("from") or its luminance row
    ("y"), on ``like``'s device and in its dtype (kept there: luminance mode reads it at every
    step)."""
    def make() -> torch.Tensor:
        m = SPACES[space]
        if kind == "from":
            return torch.linalg.inv(m.double()).float()
        return m[:1] if kind == "y" else m
    return constant(f"color_{space}_{kind}", like.device, like.dtype, make)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix, image)


def to_space(image: torch.Tensor, space: str) -> torch.Tensor:
    return _apply(_matrix(space, image), image)


def from_space(image: torch.Tensor, space: str) -> torch.Tensor:
    return _apply(_matrix(space, image, "from"), image)


def luminance(image: torch.Tensor, space: str = "yiq") -> torch.Tensor:
    """N1HW luminance (the same Y row in YIQ and YCbCr)."""
    return _apply(_matrix(space, image, "y"), image)


def gray3(y: torch.Tensor) -> torch.Tensor:
    """Replicate a luminance channel to 3 channels, the input VGG sees in luminance mode."""
    return y.expand(-1, 3, -1, -1)


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Shift/scale the style luminance to the content's mean and std (the colour paper, eq. 1)."""
    s_mean, s_std = style_y.mean(), style_y.std().clamp_min(1e-6)
    return ((style_y - s_mean) * (content_y.std() / s_std) + content_y.mean()).clamp(0, 1)


def with_chroma(y: torch.Tensor, chroma_from: torch.Tensor, space: str = "yiq") -> torch.Tensor:
    """An RGB image whose luminance is `y` and chroma that of `chroma_from` (same size)."""
    chroma = to_space(chroma_from, space)[:, 1:]
    return from_space(torch.cat([y, chroma], dim=1), space).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Symmetric (inverse) square root by eigendecomposition (`torch.linalg.eigh`).

    pastiche uses ``Tensor.eig``, removed in torch 2; eigh is also the right tool for a symmetric
    matrix (real eigenvalues, orthogonal eigenvectors).
    """
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    vals = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag(vals) @ vecs.T


def match_histogram(source: torch.Tensor, reference: torch.Tensor,
                    clamp: bool = True) -> torch.Tensor:
    """Affinely recolour `source` so its RGB mean and covariance equal `reference`'s.

    x' = C_r^(1/2) C_s^(-1/2) (x - mu_s) + mu_r: the colour paper's "Cholesky/image analogies"
    style of linear colour transfer, with symmetric square roots. Computed in float64 for stable
    small eigenvalues, then clamped into the valid range.
    """
    src = source[0].reshape(3, -1).double()
    ref = reference[0].reshape(3, -1).double()
    mu_s, mu_r = src.mean(1, keepdim=True), ref.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64, device=src.device) * 1e-5
    cov_s = torch.cov(src) + eye
    cov_r = torch.cov(ref) + eye
    transform = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    out = transform @ (src - mu_s) + mu_r
    out = out.reshape(source.shape).to(source.dtype)
    return out.clamp(0, 1) if clamp else out
