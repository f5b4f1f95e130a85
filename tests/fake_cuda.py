"""Tensors that claim to live on a CUDA GPU, so a CPU-only torch can catch cross-device bugs.

A CUDA kernel refuses tensors of another device (``Expected all tensors to be on the same
device``), so a constant, kernel or mask built on the CPU and met with image data on the GPU
fails there at once, and a CPU-only test suite never sees it. :class:`FakeCuda` makes every
tensor created "on cuda" (a ``device=`` argument, ``.to("cuda")``, ``Module.to``) a real CPU
tensor that reports ``device == cuda:0``, and raises :class:`DeviceMixError` on any torch call
whose tensor arguments sit on both sides (0-dim CPU tensors aside: CUDA kernels take those as
scalars; copies between devices are allowed, as on a GPU), and on a CPU ``torch.Generator``
drawing a CUDA tensor. The data is real, so losses, control flow and previews are those of a
real run; ``.numpy()`` of a CUDA tensor fails as it does on a GPU, and host syncs
(``item()``, ``float()``, ``tolist()``, copies between devices) are counted, those C++ makes
too (a dispatch mode sees every read of a value).

Why not ``torch._subclasses.FakeTensorMode`` (fake CUDA tensors without data) with a dispatch
mode that checks devices: on a CPU-only build (torch 2.13) the autograd engine aborts the
process (``PyTorch is not linked with support for cuda devices``, from the CUDA device guard
it looks up for a leaf's gradient accumulator), so no backward pass runs on fake CUDA tensors;
and a tensor without data has no ``float()``, which every progress record, L-BFGS and the
scorer need. This mode works one level up, at the torch-function level: autograd runs on the
real CPU tensors underneath, and every call the code under test makes passes through the check.

The device of a tensor is the device of its storage: a tensor is on CUDA when its storage was
made there, so views, ``detach()``, ``nn.Parameter`` and ``.data`` follow their storage as
they do on a GPU. The mode keeps each such storage alive while it is active (so a freed
address is never mistaken for another tensor's) and lets go of the ones only it still holds.
"""
from __future__ import annotations

import collections
import contextlib
from typing import Any, Callable, Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

CUDA = torch.device("cuda", 0)
# Factories that take their values from Python data, which a GPU copies up from the host.
_FROM_HOST = (torch.tensor, torch.as_tensor, torch.Tensor.new_tensor)
_PRUNE_EVERY = 2000  # calls between two sweeps of the storages only the mode still holds


class DeviceMixError(RuntimeError):
    """A torch call met tensors of two devices (what a CUDA kernel refuses)."""


def _storage(t: torch.Tensor):
    return t.untyped_storage()


class FakeCuda(TorchFunctionMode):
    """The mode (see the module doc). ``syncs`` counts host syncs by kind."""

    def __init__(self) -> None:
        super().__init__()
        self._held: dict[int, Any] = {}  # data_ptr -> the storage, kept alive
        self._calls = 0
        self.syncs: collections.Counter[str] = collections.Counter()
        self._special: dict[Any, Callable] = {
            torch.Tensor.device.__get__: lambda f, a, k: CUDA if self.on_gpu(a[0])
            else f(*a, **k),
            torch.Tensor.is_cuda.__get__: lambda f, a, k: self.on_gpu(a[0]),
            torch.Tensor.is_cpu.__get__: lambda f, a, k: not self.on_gpu(a[0]),
            torch.Tensor.get_device: lambda f, a, k: 0 if self.on_gpu(a[0]) else -1,
            torch.Tensor.to: self._to,
            torch.Tensor.cpu: lambda f, a, k: self._move(a[0], False),
            torch.Tensor.cuda: lambda f, a, k: self._move(a[0], True),
            torch.Tensor.numpy: self._numpy,
            torch.Tensor.grad.__get__: self._follow_owner,
            torch.Tensor.copy_: self._copy,
            # Module.to rebinds a parameter to its copy on the device (``param.data = copy``)
            # after asking whether the two are of one kind: neither computes anything.
            torch.Tensor.data.__set__: lambda f, a, k: f(*a, **k),
            torch._has_compatible_shallow_copy_type: lambda f, a, k: f(*a, **k),
            torch.Tensor.__setitem__: self._setitem,
            torch.Tensor.__getitem__: self._getitem,
        }
        # float(), item(), bool(), and a 0-dim tensor passed where torch wants a number (as
        # torch's L-BFGS passes alpha=) all read one value through aten._local_scalar_dense:
        # counted by _HostReads below. tolist() reads without it.
        self._special[torch.Tensor.tolist] = self._host_read
        self._reads = _HostReads(self)

    # ------------------------------------------------------------------ what is where

    def on_gpu(self, t: torch.Tensor) -> bool:
        """Whether ``t`` claims to be on CUDA."""
        with torch._C.DisableTorchFunction():  # the mode's own look must not pass through it
            if t.device.type == "meta":
                return False
            ptr = _storage(t).data_ptr()
        return ptr in self._held if ptr else getattr(t, "_fake_cuda", False)

    def _tag(self, out: Any, known: set[int]) -> Any:
        """Put every tensor of ``out`` whose storage is new (not one of ``known``) on CUDA."""
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                s = _storage(t)
                if s.data_ptr() and s.data_ptr() not in known:
                    self._held[s.data_ptr()] = s
                elif not s.data_ptr():
                    t._fake_cuda = True  # an empty tensor has no storage to mark
        return out

    def _prune(self) -> None:
        self._held = {p: s for p, s in self._held.items()
                      if torch._C._storage_Use_Count(s._cdata) > 1}

    # ------------------------------------------------------------------ the check

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune()
        special = self._special.get(func)
        if special is not None:
            return special(func, args, kwargs)
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        gpu = self._check(func, tensors)
        device = kwargs.get("device")
        if device is not None:
            gpu = torch.device(device).type == "cuda"
            kwargs["device"] = "cpu"
        generator = kwargs.get("generator")
        if generator is not None and gpu != (generator.device.type == "cuda"):
            raise DeviceMixError(f"{_name(func)}: a {generator.device.type} Generator draws "
                                 f"a {'cuda' if gpu else 'cpu'} tensor")
        out = func(*args, **kwargs)
        if gpu:
            self._tag(out, {_storage(t).data_ptr() for t in tensors})
            if func in _FROM_HOST and not tensors:
                self.syncs["to device"] += 1  # Python numbers copied up from the host
        return out

    def _check(self, func, tensors: list[torch.Tensor]) -> bool:
        """True if the call's tensors are on CUDA; DeviceMixError if on both devices."""
        gpu = [self.on_gpu(t) for t in tensors]
        if any(gpu) and not all(g or t.dim() == 0 for g, t in zip(gpu, tensors)):
            shapes = ", ".join(f"{'cuda' if g else 'cpu'} {tuple(t.shape)}"
                               for g, t in zip(gpu, tensors))
            raise DeviceMixError(f"{_name(func)} mixes devices: {shapes}")
        return any(gpu)

    # ------------------------------------------------------------------ moves and reads

    def _move(self, t: torch.Tensor, to_gpu: bool, dtype=None, memory_format=None,
              copy: bool = False) -> torch.Tensor:
        was = self.on_gpu(t)
        out = t.to(dtype=dtype or t.dtype, copy=copy,
                   memory_format=memory_format or torch.preserve_format)
        if was == to_gpu:  # a new dtype or layout on the same device
            return self._tag(out, {_storage(t).data_ptr()}) if was else out
        self.syncs["to host" if was else "to device"] += 1
        if _storage(out).data_ptr() == _storage(t).data_ptr():
            out = out.clone()
        return self._tag(out, set()) if to_gpu else out

    def _to(self, func, args, kwargs):
        t, rest = args[0], args[1:]
        if rest and isinstance(rest[0], torch.Tensor):
            other = rest[0]
            return self._move(t, self.on_gpu(other), other.dtype, copy=kwargs.get("copy", False))
        copy = kwargs.pop("copy", False)
        device, dtype, _, memory_format = torch._C._nn._parse_to(*rest, **kwargs)
        to_gpu = self.on_gpu(t) if device is None else device.type == "cuda"
        return self._move(t, to_gpu, dtype, memory_format, copy)

    def _numpy(self, func, args, kwargs):
        if self.on_gpu(args[0]):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() "
                            "to copy the tensor to host memory first.")
        return func(*args, **kwargs)

    def _host_read(self, func, args, kwargs):
        if self.on_gpu(args[0]):
            self.syncs[func.__name__] += 1
        return func(*args, **kwargs)

    def __enter__(self):
        super().__enter__()
        self._reads.__enter__()
        return self

    def __exit__(self, *exc):
        self._reads.__exit__(*exc)
        return super().__exit__(*exc)

    def _follow_owner(self, func, args, kwargs):
        """``p.grad``: autograd made it on the CPU underneath; it lives where ``p`` does."""
        out = func(*args, **kwargs)
        if isinstance(out, torch.Tensor) and self.on_gpu(args[0]):
            self._tag(out, set())
        return out

    def _copy(self, func, args, kwargs):
        dst, src = args[0], args[1]
        if self.on_gpu(dst) != self.on_gpu(src):
            self.syncs["to host" if self.on_gpu(src) else "to device"] += 1
        return func(*args, **kwargs)

    def _setitem(self, func, args, kwargs):
        # A value from the other device is copied, as copy_ is; indices may be on the CPU.
        return func(*args, **kwargs)

    def _getitem(self, func, args, kwargs):
        # CUDA tensors take CPU index tensors (moved to the device by torch); the reverse fails.
        t, index = args[0], args[1]
        index_tensors = [i for i in tree_flatten(index)[0] if isinstance(i, torch.Tensor)]
        if not self.on_gpu(t) and any(self.on_gpu(i) for i in index_tensors):
            raise DeviceMixError("indexing a cpu tensor with cuda indices")
        out = func(*args, **kwargs)
        return self._tag(out, {_storage(t).data_ptr()}) if self.on_gpu(t) else out

    # ------------------------------------------------------------------ scanning results

    def gpu_tensors(self, value: Any, path: str = "value") -> list[str]:
        """Where ``value`` (nested dataclasses, dicts, lists, tuples) holds CUDA tensors."""
        found: list[str] = []
        if isinstance(value, torch.Tensor):
            if self.on_gpu(value):
                found.append(path)
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                found += self.gpu_tensors(getattr(value, name), f"{path}.{name}")
        elif isinstance(value, dict):
            for key, item in value.items():
                found += self.gpu_tensors(item, f"{path}[{key!r}]")
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                found += self.gpu_tensors(item, f"{path}[{i}]")
        return found


class _HostReads(TorchDispatchMode):
    """Counts the reads of one value of a CUDA tensor on the host (``syncs["item"]``), each a
    wait for the GPU, wherever they come from (Python or C++)."""

    def __init__(self, owner: FakeCuda) -> None:
        super().__init__()
        self.owner = owner

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default and self.owner.on_gpu(args[0]):
            self.owner.syncs["item"] += 1
        return func(*args, **(kwargs or {}))


def _name(func) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or str(func)


@contextlib.contextmanager
def fake_cuda(monkeypatch, mode: FakeCuda | None = None) -> Iterator[FakeCuda]:
    """``mode`` (a new one by default) entered, with ``torch.cuda.is_available()`` true and
    the process-wide caches of device tensors (the VGG19 per device, device constants) empty
    for its duration."""
    from nst_core.imaging import device_constants, vgg

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # autocast asks before it runs bf16 on "cuda"; the convolutions then run on the CPU
    # tensors underneath, which a "cuda" autocast leaves in fp32.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *_, **__: True)
    monkeypatch.setattr(vgg, "_CACHE", {})
    monkeypatch.setattr(device_constants, "_CACHE", {})
    mode = mode or FakeCuda()
    with mode:
        yield mode
