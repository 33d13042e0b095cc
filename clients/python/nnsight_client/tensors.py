"""Tensors the client sends: inline JSON or an attached safetensors blob.

``tensor(data, dtype=None)`` turns nested lists (or numpy arrays, torch
tensors) into a :class:`Tensor`, so tensors can be sent without numpy.
:class:`Attachments` collects the tensors too large to inline and writes them
as one safetensors file (8-byte little-endian header length, header JSON
padded with spaces to 8 bytes, then the raw little-endian data), the
``tensors`` part of a multipart request (docs/server.md).
"""

import json
import struct
import sys

try:
    import numpy as np
except ImportError:  # numpy is optional
    np = None

from .errors import NNsightError

# graph-format dtype -> (struct code, bytes per element, safetensors dtype)
DTYPES = {
    "float32": ("f", 4, "F32"), "float64": ("d", 8, "F64"), "float16": ("e", 2, "F16"),
    "int64": ("q", 8, "I64"), "int32": ("i", 4, "I32"), "int16": ("h", 2, "I16"), "int8": ("b", 1, "I8"),
    "uint8": ("B", 1, "U8"), "bool": ("?", 1, "BOOL"),
}

# Inline limit of the C++ encoder (format::EncodeOptions::inline_tensor_bytes).
DEFAULT_INLINE_TENSOR_BYTES = 64 << 10


class Tensor:
    """A tensor value built without numpy: dtype name, shape and flat row-major elements."""

    def __init__(self, dtype, shape, flat):
        if dtype not in DTYPES:
            raise NNsightError(f"dtype {dtype!r} cannot be sent", "use one of " + ", ".join(DTYPES))
        count = 1
        for s in shape:
            count *= s
        if count != len(flat):
            raise NNsightError(f"a tensor of shape {list(shape)} needs {count} elements, got {len(flat)}")
        self.dtype = dtype
        self.shape = tuple(shape)
        self.flat = list(flat)

    @property
    def nbytes(self):
        return len(self.flat) * DTYPES[self.dtype][1]

    def tobytes(self):
        code = DTYPES[self.dtype][0]
        return struct.pack("<%d%s" % (len(self.flat), code), *self.flat)

    def __repr__(self):
        return f"Tensor({self.dtype}, shape={list(self.shape)})"


def _shape_and_flat(data):
    shape, level = [], data
    while isinstance(level, (list, tuple)):
        shape.append(len(level))
        level = level[0] if level else None
    flat = []

    def walk(v, depth):
        if depth == len(shape):
            if isinstance(v, (list, tuple)):
                raise NNsightError("the nested lists are ragged (sub-lists differ in depth)")
            flat.append(v)
            return
        if not isinstance(v, (list, tuple)) or len(v) != shape[depth]:
            raise NNsightError(f"the nested lists are ragged at depth {depth}", "every sub-list of a level has the "
                               "same length")
        for x in v:
            walk(x, depth + 1)

    walk(data, 0)
    return shape, flat


def tensor(data, dtype=None):
    """A tensor to send (``torch.tensor`` of the client): nested lists of numbers, a numpy array or a
    torch tensor. The dtype defaults as in torch: bool, int64, or float32 when any element is a float."""
    if np is not None and isinstance(data, np.ndarray):
        return data if dtype is None else data.astype(dtype)
    data = to_numpy_if_torch(data)
    if np is not None and isinstance(data, np.ndarray):
        return tensor(data, dtype)
    shape, flat = _shape_and_flat(data)
    if dtype is None:
        if flat and all(isinstance(x, bool) for x in flat):
            dtype = "bool"
        elif all(isinstance(x, int) for x in flat) and flat:
            dtype = "int64"
        else:
            dtype = "float32"
    dtype = str(dtype).replace("torch.", "")
    if dtype not in DTYPES:
        raise NNsightError(f"dtype {dtype!r} cannot be sent", "use one of " + ", ".join(DTYPES))
    for x in flat:
        if not isinstance(x, (int, float)):  # bool is an int
            raise NNsightError(f"tensor element {x!r} is not a number")
    if dtype == "bool":
        flat = [bool(x) for x in flat]
    elif dtype.startswith("float"):
        flat = [float(x) for x in flat]
    else:
        flat = [int(x) for x in flat]
    return Tensor(dtype, shape, flat)


def to_numpy_if_torch(value):
    """A torch tensor as a numpy array (the client does not need torch; this only converts)."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "numpy"):
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            raise NNsightError("bfloat16 torch tensors cannot be converted for sending", "send t.float() instead")
        if np is None:
            return tensor(t.tolist(), str(t.dtype).replace("torch.", ""))
        return t.numpy()
    return value


def numpy_bytes(array):
    """Row-major little-endian bytes of a numpy array."""
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.astype(a.dtype.newbyteorder("<"))
    return a.tobytes()


class Attachments:
    """Tensors attached to one request, named t0, t1, ... (a tensor object used twice is stored once)."""

    def __init__(self):
        self._by_id = {}     # id(object) -> name
        self._items = []     # (name, dtype, shape, object); keeps the objects alive so ids stay unique

    def __len__(self):
        return len(self._items)

    def attach(self, obj, dtype, shape):
        name = self._by_id.get(id(obj))
        if name is None:
            name = f"t{len(self._items)}"
            self._by_id[id(obj)] = name
            self._items.append((name, dtype, list(shape), obj))
        return name

    def to_bytes(self):
        """The safetensors file of the attached tensors."""
        header, chunks, offset = {}, [], 0
        for name, dtype, shape, obj in self._items:
            data = obj.tobytes() if isinstance(obj, Tensor) else numpy_bytes(obj)
            header[name] = {"dtype": DTYPES[dtype][2], "shape": shape, "data_offsets": [offset, offset + len(data)]}
            chunks.append(data)
            offset += len(data)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        return struct.pack("<Q", len(text)) + text + b"".join(chunks)
