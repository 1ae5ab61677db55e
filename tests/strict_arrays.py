"""A strict stand-in for CuPy, for tests only: NumPy arrays held as if on a device, refusing what CuPy refuses
(implicit conversion to NumPy, host and device arrays mixed in one operation) and what the harness forbids
inside a timed fit (a device value read back as a Python number). It tests device discipline; nothing it runs
is a GPU figure."""

from __future__ import annotations

import operator
import types
from typing import Any

import numpy as np


class Refused(TypeError):
    pass


class DeviceArray:
    __slots__ = ("a",)

    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise Refused("Implicit conversion to a NumPy array is not allowed: use .get()")

    def _read_back(self, *args: Any) -> Any:
        raise Refused("a device value read back on the host (an implicit synchronization)")

    __float__ = __int__ = __bool__ = __index__ = item = tolist = _read_back

    def __array_namespace__(self, api_version: Any = None) -> types.ModuleType:
        return strict

    def get(self) -> np.ndarray:  # the explicit copy back, as cupy.ndarray.get()
        return self.a.copy()

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    T = property(lambda self: DeviceArray(self.a.T))

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, key: Any) -> Any:
        return wrap(self.a[unwrap(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self.a[unwrap(key)] = unwrap(value)

    def __getattr__(self, name: str) -> Any:  # methods: sum, mean, std, astype, reshape, any, ...
        method = getattr(self.a, name)
        return lambda *args, **kwargs: wrap(method(*unwrap(args), **unwrap(kwargs)))


def _operator(name: str) -> Any:
    def apply(self: DeviceArray, *others: Any) -> Any:
        return wrap(getattr(self.a, name)(*unwrap(others)))
    return apply


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    for _dunder in (f"__{_name}__", f"__r{_name}__"):
        setattr(DeviceArray, _dunder, _operator(_dunder))
for _dunder in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__neg__", "__invert__", "__abs__"):
    setattr(DeviceArray, _dunder, _operator(_dunder))
for _dunder in ("__iadd__", "__isub__", "__imul__", "__itruediv__"):
    setattr(DeviceArray, _dunder, lambda self, other, op=getattr(operator, _dunder): (op(self.a, unwrap(other)), self)[1])


def unwrap(x: Any) -> Any:
    if isinstance(x, DeviceArray):
        return x.a
    if isinstance(x, np.ndarray) and x.ndim > 0:
        raise Refused("a host (NumPy) array mixed with device arrays: move it with asarray first")
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: unwrap(v) for k, v in x.items()}
    return x


def wrap(x: Any) -> Any:
    if isinstance(x, (np.ndarray, np.generic)):
        return DeviceArray(np.asarray(x))  # reductions give 0-d device arrays, as CuPy's do
    if isinstance(x, tuple):
        return tuple(wrap(v) for v in x)
    return x


class StrictModule(types.ModuleType):
    """NumPy's functions taking and giving device arrays; `asarray`/`array` also take host data (a copy in)."""

    def __init__(self, name: str, numpy_module: types.ModuleType) -> None:
        super().__init__(name)
        self._np = numpy_module

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._np, name)
        if isinstance(found, types.ModuleType):
            return StrictModule(f"{self.__name__}.{name}", found)
        if not callable(found) or isinstance(found, type):
            return found  # constants and dtypes: nan, float32, newaxis
        if name in ("asarray", "array"):
            return lambda a, *args, **kwargs: DeviceArray(np.array(a.a if isinstance(a, DeviceArray) else a,
                                                                   *args, **kwargs))
        if name == "asnumpy":
            raise AttributeError(name)
        return lambda *args, **kwargs: wrap(found(*unwrap(args), **unwrap(kwargs)))


strict = StrictModule("strict_arrays", np)


def asnumpy(a: Any) -> np.ndarray:
    return a.get() if isinstance(a, DeviceArray) else np.asarray(a)
