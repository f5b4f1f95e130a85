"""nst_core.optim.lbfgs: torch's L-BFGS step without host syncs (the engine's L-BFGS on a GPU).

Its iterates are checked against ``torch.optim.LBFGS`` with the engine's arguments in float64,
where rounding is far below what the comparison resolves: 50 steps on Rosenbrock's function
(history 5, so the ring of pairs wraps, and 100) and on a VGG19 style objective agree to 1e-6.
In float32 any two implementations (torch's float32 run and its own float64 run too) drift
apart over tens of unit L-BFGS steps as rounding compounds, so there the check is the first
steps, which agree to rounding.
"""
from __future__ import annotations

import copy

import pytest
import torch

from fake_cuda import fake_cuda
from nst_core.engine import loop as engine
from nst_core.engine.prepare import prepare
from nst_core.optim.lbfgs import SyncFreeLBFGS
from nst_core.optim.registry import LBFGS_HISTORY, make_optimizer
from nst_core.settings import Settings


def torch_lbfgs(params, history: int = LBFGS_HISTORY) -> torch.optim.LBFGS:
    return torch.optim.LBFGS(params, lr=1.0, max_iter=1, history_size=history,
                             tolerance_grad=0.0, tolerance_change=0.0)


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def iterates(make, params: list[torch.Tensor], objective, steps: int = 50) -> torch.Tensor:
    """The parameters after each of ``steps`` steps, flattened, one row per step."""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    opt = make(params)

    def closure():
        opt.zero_grad()
        loss = objective(params)
        loss.backward()
        return loss

    rows = []
    for _ in range(steps):
        opt.step(closure)
        rows.append(torch.cat([p.detach().reshape(-1) for p in params]))
    return torch.stack(rows)


def relative_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).norm(dim=1) / b.norm(dim=1)


@pytest.mark.parametrize("history", [5, 100])
def test_same_iterates_as_torch_on_rosenbrock_in_float64(history):
    torch.manual_seed(0)
    start = torch.randn(40, dtype=torch.float64)
    # Two tensors, so the flat step is split back into each parameter.
    halves = [start[:25], start[25:]]
    objective = lambda ps: rosenbrock(torch.cat(ps))  # noqa: E731
    ours = iterates(lambda ps: SyncFreeLBFGS(ps, history_size=history), halves, objective)
    theirs = iterates(lambda ps: torch_lbfgs(ps, history), halves, objective)
    assert relative_gap(ours, theirs).max() < 1e-6
    assert rosenbrock(ours[-1]) < 0.5 * rosenbrock(start)  # it did descend


def test_same_iterates_as_torch_on_a_vgg_style_objective_in_float64(vgg):
    net = copy.deepcopy(vgg.features[:7]).double()  # conv1_1 .. relu2_1
    torch.manual_seed(1)
    style = net(torch.rand(1, 3, 24, 24, dtype=torch.float64) * 255)
    content = net(torch.rand(1, 3, 24, 24, dtype=torch.float64) * 255)

    def gram(f):
        f = f.reshape(f.shape[1], -1)
        return f @ f.T / f.shape[1]

    def objective(ps):
        f = net(ps[0] * 255)
        return ((f - content) ** 2).mean() * 1e-4 + ((gram(f) - gram(style)) ** 2).mean() * 1e-7

    start = [torch.rand(1, 3, 24, 24, dtype=torch.float64)]
    ours = iterates(lambda ps: SyncFreeLBFGS(ps), start, objective)
    theirs = iterates(torch_lbfgs, start, objective)
    assert relative_gap(ours, theirs).max() < 1e-6
    assert objective([ours[-1].view(1, 3, 24, 24)]) < 0.25 * objective(start)


def test_in_float32_the_first_steps_follow_the_float64_path():
    torch.manual_seed(0)
    start = [torch.randn(40, dtype=torch.float64)]
    objective = lambda ps: rosenbrock(ps[0])  # noqa: E731
    exact = iterates(torch_lbfgs, start, objective, steps=10)
    single = [start[0].float()]
    for make in (torch_lbfgs, lambda ps: SyncFreeLBFGS(ps)):
        gap = relative_gap(iterates(make, single, objective, steps=10).double(), exact)
        assert gap.max() < 1e-4  # rounding only


def test_the_engines_run_matches_torchs_first_steps_in_float32(content_path, style_path,
                                                                monkeypatch):
    s = Settings(size=32, steps=8, device="cpu", seed=0, preview_every=0, report_every=1)
    totals = {}
    for name, make in (("torch", engine.make_optimizer),
                       ("ours", lambda n, ps, lr: SyncFreeLBFGS(ps, lr=lr))):
        monkeypatch.setattr(engine, "make_optimizer", make)
        records = list(engine.optimize(prepare(content_path, style_path, s)))
        totals[name] = torch.tensor([r.losses["total"] for r in records], dtype=torch.float64)
    gap = (totals["ours"] - totals["torch"]).abs() / totals["torch"]
    assert gap.max() < 1e-4, gap


def test_a_zero_gradient_changes_nothing_as_in_torch():
    x = torch.ones(5, requires_grad=True)
    opt = SyncFreeLBFGS([x])

    def flat():
        opt.zero_grad()
        loss = (x * 0).sum()
        loss.backward()
        return loss

    opt.step(flat)
    assert torch.equal(x.detach(), torch.ones(5))
    assert bool(opt.state[x]["first"])  # the next real step is still the first one


def test_on_a_gpu_the_step_never_waits_for_the_device(monkeypatch):
    """Fake CUDA (tests/fake_cuda.py) counts host syncs: torch's step makes 4, plus 2 per
    remembered pair (alpha=-al[i] and alpha=al[i] - be_i read 0-dim GPU tensors); this one
    none."""
    per_step = {}
    with fake_cuda(monkeypatch) as cuda:
        for name, make in (("torch", torch_lbfgs), ("ours", lambda ps: SyncFreeLBFGS(ps))):
            x = torch.randn(30, device="cuda").requires_grad_(True)
            opt = make([x])

            def closure():
                opt.zero_grad()
                loss = rosenbrock(x)
                loss.backward()
                return loss

            counts = []
            for _ in range(12):
                before = sum(cuda.syncs.values())
                opt.step(closure)
                counts.append(sum(cuda.syncs.values()) - before)
            per_step[name] = counts
            assert cuda.on_gpu(x)
    assert per_step["ours"] == [0] * 12
    assert per_step["torch"][1:] == [4 + 2 * pairs for pairs in range(1, 12)]


def test_the_engine_uses_it_on_gpus_and_torchs_on_the_cpu(monkeypatch):
    assert isinstance(make_optimizer("lbfgs", [torch.zeros(3, requires_grad=True)], 1.0),
                      torch.optim.LBFGS)
    with fake_cuda(monkeypatch):
        p = torch.zeros(3, device="cuda", requires_grad=True)
        assert isinstance(make_optimizer("lbfgs", [p], 1.0), SyncFreeLBFGS)
