"""L-BFGS without host syncs, for GPUs: the step ``torch.optim.LBFGS`` makes in this engine
(``max_iter=1``: one evaluation per step, no line search, both tolerances 0), with every
decision taken on the device.

torch's step reads device values on the host: the loss (``float(closure())``), its optimality
and descent checks, the curvature check of each new pair, and above all the two-loop recursion,
whose ``q.add_(y, alpha=-al[i])`` turns a 0-dim device tensor into a Python number once per
remembered pair and loop: about 2 x 100 waits for the GPU per step with a full history, and
400 small kernel launches. Here the direction comes from the compact representation of the
L-BFGS matrix (Byrd, Nocedal and Schnabel 1994, "Representations of quasi-Newton matrices and
their use in limited memory methods", eq. 3.13):

    H = gamma I + [S  gamma Y] [[R^-T (D + gamma Y^T Y) R^-1, -R^-T], [-R^-1, 0]] [S^T; gamma Y^T]

with S, Y the remembered steps and gradient changes (rows of one buffer), R the upper triangle
of S^T Y, D its diagonal and gamma = s.y / y.y of the newest pair. A step is three passes over
the buffer (the gradient's products with it, the products of the new pair, the direction) and
triangular solves on 100 x 100 matrices (in float64), with no Python decision on a device
value: a pair is kept or not, and a step taken or not, by masks. In exact arithmetic the
direction is the two-loop recursion's; tests/nst_core/optim/test_lbfgs.py checks the iterates
against torch's.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

# torch.optim.LBFGS's curvature threshold: a pair with s.y at or below it is not remembered.
CURVATURE_EPS = 1e-10


class SyncFreeLBFGS(torch.optim.Optimizer):
    """``torch.optim.LBFGS(params, lr, max_iter=1, history_size, tolerance_grad=0,
    tolerance_change=0)`` with no host sync (see the module doc). ``step(closure)`` evaluates
    the closure once and returns what it returned."""

    def __init__(self, params: Sequence[torch.Tensor], lr: float = 1.0,
                 history_size: int = 100):
        super().__init__(params, dict(lr=lr, history_size=history_size))
        if len(self.param_groups) != 1:
            raise ValueError("SyncFreeLBFGS takes one parameter group")
        self._params: list[torch.Tensor] = self.param_groups[0]["params"]

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel())
                          for p in self._params])

    def _state(self, g: torch.Tensor) -> dict:
        state = self.state[self._params[0]]
        if not state:
            m, n = self.param_groups[0]["history_size"], g.numel()
            zeros = torch.zeros
            state.update(
                pairs=zeros((2 * m, n), dtype=g.dtype, device=g.device),  # rows: S, then Y
                sy=zeros((m, m), dtype=torch.float64, device=g.device),  # s_i . y_j
                yy=zeros((m, m), dtype=torch.float64, device=g.device),  # y_i . y_j
                count=zeros((), dtype=torch.int64, device=g.device),  # pairs kept so far
                gamma=torch.ones((), dtype=torch.float64, device=g.device),
                d=torch.zeros_like(g), t=torch.zeros((), dtype=g.dtype, device=g.device),
                prev_g=torch.zeros_like(g), first=torch.ones((), dtype=torch.bool,
                                                              device=g.device))
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        with torch.enable_grad():
            loss = closure()
        g = self._flat_grad()
        st = self._state(g)
        # torch returns at once on a zero gradient (tolerance_grad 0): nothing changes.
        moving = g.abs().amax() > 0
        self._remember(st, g, moving)
        d = -self._times_h(st, g)
        lr = self.param_groups[0]["lr"]
        t = torch.where(st["first"], (1.0 / g.abs().sum()).clamp(max=1.0) * lr,
                        torch.full_like(st["t"], lr))
        # torch takes no step along a direction that does not descend (gtd > -0).
        take = moving & (g.dot(d) <= 0)
        self._add(d * torch.where(take, t, torch.zeros_like(t)))
        for key, new in (("d", d), ("t", t), ("prev_g", g)):
            st[key] = torch.where(moving, new, st[key])
        st["first"] = st["first"] & ~moving
        return loss

    def _remember(self, st: dict, g: torch.Tensor, moving: torch.Tensor) -> None:
        """Keep the pair of the last step (s = t d, y = g - g_prev) when its s.y > eps."""
        m = st["sy"].shape[0]
        s, y = st["d"] * st["t"], g - st["prev_g"]
        ys = y.dot(s)
        keep = moving & ~st["first"] & (ys > CURVATURE_EPS)
        slot = torch.remainder(st["count"], m).view(1)
        pairs = st["pairs"]
        rows = torch.stack([s, y])
        old = pairs[torch.cat([slot, slot + m])]
        pairs.index_copy_(0, torch.cat([slot, slot + m]), torch.where(keep, rows, old))
        # The new pair's products with every remembered pair (itself included).
        with_s, with_y = (pairs @ pairs[torch.cat([slot, slot + m])].T).double().unbind(1)
        sy_col, sy_row, yy_col = with_y[:m], with_s[m:], with_y[m:]  # s_i.y_w, s_w.y_j, y.y_w
        st["sy"].index_copy_(1, slot, sy_col.view(m, 1))
        st["sy"].index_copy_(0, slot, sy_row.view(1, m))
        st["yy"].index_copy_(1, slot, yy_col.view(m, 1))
        st["yy"].index_copy_(0, slot, yy_col.view(1, m))
        st["gamma"] = torch.where(keep, ys.double() / y.dot(y).double(), st["gamma"])
        st["count"] = st["count"] + keep.long()

    def _times_h(self, st: dict, g: torch.Tensor) -> torch.Tensor:
        """H g by the compact representation, the pairs taken oldest first."""
        m = st["sy"].shape[0]
        position = torch.arange(m, device=g.device)
        age = st["count"] - m + position  # pair number at each position, oldest first
        valid = age >= 0
        order = torch.remainder(age, m)  # its slot (a permutation of the slots)
        both = valid[:, None] & valid[None, :]
        sy = st["sy"][order][:, order] * both
        yy = st["yy"][order][:, order] * both
        gamma = st["gamma"]
        products = (st["pairs"] @ g).double()  # s_i.g, then y_i.g, in slot order
        a = products[:m][order] * valid
        b = products[m:][order] * valid
        eye = torch.eye(m, dtype=torch.float64, device=g.device)
        r = torch.triu(sy) + eye * ~valid  # unused positions solve to 0
        z = torch.linalg.solve_triangular(r, a.view(m, 1), upper=True).view(m)
        rhs = (torch.diagonal(sy) * z + gamma * (yy @ z) - gamma * b).view(m, 1)
        p = torch.linalg.solve_triangular(r.T, rhs, upper=False).view(m)
        coeffs = torch.zeros(2 * m, dtype=torch.float64, device=g.device)
        coeffs.index_copy_(0, order, p)
        coeffs.index_copy_(0, order + m, -gamma * z)
        return gamma.to(g.dtype) * g + coeffs.to(g.dtype) @ st["pairs"]

    def _add(self, update: torch.Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(update[offset:offset + n].view_as(p))
            offset += n
