"""The recorder: nodes of one graph document (docs/graph-format.md), in creation order."""

import difflib
import os
import sys

from . import values
from .errors import NNsightError, UnsupportedOpError
from .tensors import DEFAULT_INLINE_TENSOR_BYTES, Attachments

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# The closed op set (src/nnsight/graph/ops.h); the server checks arity.
OPS = frozenset("""
add sub mul truediv floordiv mod pow neg pos abs matmul iadd isub imul itruediv
eq ne lt le gt ge and_ or_ xor_ not_ invert getitem setitem
clone detach sum mean norm argmax softmax log_softmax cat stack zeros_like ones_like view reshape
transpose permute exp log to float size shape topk where unsqueeze squeeze flatten max min item tolist
requires_grad_ retain_grad contiguous narrow index_select add_ sub_ mul_ div_ zero_ fill_ backward
list dict tuple int float str bool len append print
""".split())


def caller_location():
    """(file, line, function) of the first frame outside this package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back
    if frame is None:
        return None
    file = frame.f_code.co_filename
    try:
        rel = os.path.relpath(file)
        if not rel.startswith(".."):
            file = rel
    except ValueError:  # another drive (Windows)
        pass
    return (file, frame.f_lineno, frame.f_code.co_name)


# Ways to write common missing ops with ops of the set.
_INSTEAD = {
    "sqrt": "x ** 0.5", "rsqrt": "x ** -0.5", "square": "x ** 2", "reciprocal": "1 / x",
    "argmin": "(-x).argmax(dim)", "relu": "ops.where(x > 0, x, 0.0)", "sigmoid": "1 / (1 + (-x).exp())",
    "amax": "x.max(dim).values", "amin": "x.min(dim).values", "logsumexp": "x.exp().sum(dim).log()",
    "numel": "ops.len(x.view(-1))", "bmm": "a @ b", "expand": "broadcasting (x * ones)",
}


def unsupported_op(name, what="op"):
    """The error for an op the server's op set lacks, naming it and close ops."""
    base = name.split(".")[-1].split("(")[0]
    close = difflib.get_close_matches(base, sorted(OPS), n=3, cutoff=0.75)
    hint = "the server runs only the closed op set of src/nnsight/graph/ops.h"
    if base in _INSTEAD:
        hint = f"write it as {_INSTEAD[base]}; " + hint
    elif close:
        hint += "; close names: " + ", ".join(close)
    return UnsupportedOpError(name, f"'{name}' is not in the server's op set ({what})", hint)


_ACTIVE = []  # graphs being recorded, innermost last (for ops.list() and friends without proxy arguments)


def active_graph():
    """The graph of the innermost trace or session being recorded, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


class Graph:
    """Nodes plus the recording state (open contexts, current invoke, entry cache)."""

    def __init__(self, inline_tensor_bytes=DEFAULT_INLINE_TENSOR_BYTES):
        self.inline_tensor_bytes = inline_tensor_bytes
        self.attachments = Attachments()  # tensors too large to inline, sent as a safetensors blob
        self.open_trace = -1     # id of the trace context being recorded, -1 at session level
        self.last_condition = None
        self.nodes = []
        self.locations = []      # (file, line, function) or None, by node id
        self.contexts = []       # ids of open context nodes, innermost last
        self.batch_group = -1
        self.entries = {}        # (key, iteration json, batch group, context) -> Proxy
        self.saves = {}          # save node id -> Proxy
        self.overrides = []      # (module path prefix, iteration spec, single call or None): next() / iter scopes

    def add(self, kind, loc=None, **fields):
        node_id = len(self.nodes)
        node = {"id": node_id, "kind": kind}
        node.update(fields)
        loc = loc if loc is not None else caller_location()
        if loc is not None:
            node["loc"] = {"file": loc[0], "line": loc[1], "function": loc[2]}
        self.nodes.append(node)
        self.locations.append(loc)
        return node_id

    def value(self, v):
        return values.encode(v, self)

    def op(self, name, args, kwargs=None, loc=None):
        """Records op `name`; returns a Proxy of its result."""
        from .proxy import Proxy

        if name not in OPS:
            raise unsupported_op(name)
        fields = {"op": name, "args": [self.value(a) for a in args]}
        if kwargs:
            fields["kwargs"] = [[k, self.value(v)] for k, v in kwargs.items()]
        return Proxy(self, self.add("op", loc=loc, **fields))

    def open_context(self, kind, loc=None, **fields):
        node_id = self.add(kind, loc=loc, end=0, **fields)
        self.contexts.append(node_id)
        return node_id

    def close_context(self, node_id):
        if not self.contexts or self.contexts[-1] != node_id:
            raise NNsightError("contexts closed out of order")
        self.contexts.pop()
        self.nodes[node_id]["end"] = len(self.nodes)

    def current_context(self):
        return self.contexts[-1] if self.contexts else -1

    def activate(self):
        _ACTIVE.append(self)

    def deactivate(self):
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def document(self):
        return {"format": "nnsight-graph", "version": 1, "nodes": self.nodes}
