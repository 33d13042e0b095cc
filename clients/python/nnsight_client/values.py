"""Values of the graph format (docs/graph-format.md, "Values"): Python <-> JSON.

Encoding accepts None, bool, int, float, str, list, tuple, dict (str keys),
slice, Ellipsis, proxies (node references), numpy arrays / scalars, torch
tensors and ``nnsight_client.tensor(...)``; tensors above the graph's inline
limit are attached (``{"tensor": {..., "blob": "t0"}}``).
Decoding turns tensors into numpy arrays when numpy is importable, else into
nested lists (a 0-dim tensor becomes a plain number).
"""

import math

try:
    import numpy as np
except ImportError:  # numpy is optional
    np = None

from .errors import NNsightError
from .tensors import DTYPES, Tensor, to_numpy_if_torch

_NP_DTYPES = {
    "float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "float32",
    "int64": "int64", "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}
_FLOAT_DTYPES = {"float32", "float64", "float16", "bfloat16"}


def _float_json(x):
    if math.isnan(x):
        return {"float": "nan"}
    if math.isinf(x):
        return {"float": "inf" if x > 0 else "-inf"}
    return float(x)


def _element_json(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def tensor_json(array, graph=None):
    """A numpy array (or a :class:`Tensor`) as a ``{"tensor": ...}`` value: inline, or attached to
    ``graph``'s blob when it is larger than the graph's inline limit."""
    name = array.dtype if isinstance(array, Tensor) else str(array.dtype)
    if name not in DTYPES:
        raise NNsightError(f"dtype {name} has no graph-format equivalent",
                           "use float32/64/16, int64/32/16/8, uint8 or bool")
    shape = list(array.shape)
    if graph is not None and array.nbytes > graph.inline_tensor_bytes:
        return {"tensor": {"dtype": name, "shape": shape, "blob": graph.attachments.attach(array, name, shape)}}
    flat = array.flat if isinstance(array, Tensor) else array.reshape(-1).tolist()
    return {"tensor": {"dtype": name, "shape": shape, "data": [_element_json(x) for x in flat]}}


def encode(value, graph):
    """The JSON of a Python value; proxies must belong to ``graph``."""
    from .proxy import Proxy  # circular at import time

    if isinstance(value, Proxy):
        if value._graph is not graph:
            if value._has_value():  # a saved value of an earlier run: sent as a constant (as NNsight does)
                return encode(value.value, graph)
            raise NNsightError("a proxy of another trace was used here, and it has no value",
                               "values reach another trace through a session (or save it in an earlier run)")
        return {"ref": value._id}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise NNsightError(f"integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        return _float_json(value)
    if isinstance(value, list):
        return [encode(v, graph) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v, graph) for v in value]}
    if isinstance(value, dict):
        pairs = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise NNsightError(f"dict key {k!r} is not a string", "graph values have string keys only")
            pairs.append([k, encode(v, graph)])
        return {"dict": pairs}
    if isinstance(value, slice):
        bounds = []
        for b in (value.start, value.stop, value.step):
            if b is not None and not isinstance(b, int):
                raise NNsightError(f"slice bound {b!r} is not an int or None",
                                   "the graph format's slices have constant bounds; use narrow() for computed ones")
            bounds.append(b)
        return {"slice": bounds}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, Tensor):
        return tensor_json(value, graph)
    if np is not None:
        if isinstance(value, np.ndarray):
            return tensor_json(value, graph)
        if isinstance(value, np.generic):
            return encode(value.item(), graph)
    converted = to_numpy_if_torch(value)
    if converted is not value:
        return encode(converted, graph)
    raise NNsightError(f"cannot send a {type(value).__name__} to the server",
                       "graph values are None, bool, int, float, str, list, tuple, dict, slice, ..., "
                       "proxies, numpy arrays, torch tensors and nnsight_client.tensor(...)")


def _element(x, dtype):
    if isinstance(x, str):
        return float(x)  # "nan", "inf", "-inf"
    if dtype in _FLOAT_DTYPES:
        return float(x)
    return x


def _nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0])]


def decode_tensor(t, use_numpy=True):
    dtype = t["dtype"]
    shape = t["shape"]
    if "data" not in t:
        raise NNsightError("the server answered an attached tensor, which this client cannot read yet")
    flat = [_element(x, dtype) for x in t["data"]]
    if np is not None and use_numpy:
        return np.array(flat, dtype=_NP_DTYPES[dtype]).reshape(shape)
    return _nest(flat, shape)


def decode(j, use_numpy=True):
    """The Python value of a result value's JSON."""
    if j is None or isinstance(j, (bool, int, float, str)):
        return j
    if isinstance(j, list):
        return [decode(v, use_numpy) for v in j]
    if isinstance(j, dict):
        if "tensor" in j:
            return decode_tensor(j["tensor"], use_numpy)
        if "tuple" in j:
            return tuple(decode(v, use_numpy) for v in j["tuple"])
        if "dict" in j:
            return {k: decode(v, use_numpy) for k, v in j["dict"]}
        if "float" in j:
            return float(j["float"])
        if "slice" in j:
            return slice(*j["slice"])
        if "ellipsis" in j:
            return Ellipsis
    raise NNsightError(f"unexpected value in the server's answer: {str(j)[:200]}")
