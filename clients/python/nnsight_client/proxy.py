"""Proxy: a value of the graph being recorded, with Python operators and tensor methods."""

from .errors import NNsightError

_MISSING = object()

# Tensor methods recorded as ops with the proxy as first argument (names from ops.h).
TENSOR_METHODS = frozenset("""
clone detach sum mean norm argmax softmax log_softmax view reshape transpose permute exp log to float
size topk unsqueeze squeeze flatten max min item tolist requires_grad_ retain_grad contiguous narrow
index_select add_ sub_ mul_ div_ zero_ fill_ abs neg append
""".split())


class Proxy:
    """A node's future value. Use it like the tensor (or tuple, list, ...) it stands for.

    ``.save()`` keeps the value: after the ``with model.trace(...)`` block,
    ``.value`` holds it (a numpy array, nested lists, a tuple, a number...).
    """

    __array_ufunc__ = None  # numpy defers `array + proxy` to Proxy.__radd__
    __hash__ = object.__hash__

    def __init__(self, graph, node_id):
        self._graph = graph
        self._id = node_id
        self._value = _MISSING
        self._saved = False

    # ---- saving and the value -----------------------------------------------------------
    def save(self):
        """Keeps this value after the run; returns this proxy (its ``.value`` is filled later)."""
        if self._saved:
            return self
        save_id = self._graph.add("save", target=self._id)
        self._graph.saves[save_id] = self
        self._saved = True
        return self

    @property
    def value(self):
        if self._value is _MISSING:
            if not self._saved:
                raise NNsightError(f"node {self._id} was not saved", "call .save() on it inside the trace")
            raise NNsightError(f"node {self._id} has no value yet",
                               "the value arrives when the `with` block ends (or the save did not run)")
        return self._value

    def stop(self):
        """Ends the trace as soon as this value is computed."""
        self._graph.add("stop", after=self._id)

    @property
    def shape(self):
        return self._op("shape")

    # ---- recording helpers ----------------------------------------------------------------
    def _op(self, name, *args, **kwargs):
        return self._graph.op(name, (self,) + args, kwargs)

    def _rop(self, name, other):
        return self._graph.op(name, (other, self))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in TENSOR_METHODS:
            def method(*args, **kwargs):
                return self._graph.op(name, (self,) + args, kwargs)
            method.__name__ = name
            return method
        raise AttributeError(f"proxies have no method '{name}': the server's op set (ops.h) has no such op")

    def __getitem__(self, key):
        return self._op("getitem", key)

    def __setitem__(self, key, value):
        self._graph.op("setitem", (self, key, value))

    def __call__(self, *args, **kwargs):
        raise NNsightError("a proxy is not callable", "call modules through the model's envoys: model.lm_head(x)")

    def __bool__(self):
        raise NNsightError("the value of a proxy is not known while the trace is recorded",
                           "Python `if`/`and`/`or`/`not` cannot branch on it; compare after the run with .value")

    def __iter__(self):
        raise NNsightError("a proxy cannot be iterated while the trace is recorded", "index it: x[0], x[1], ...")

    def __len__(self):
        raise NNsightError("len() of a proxy is not known while the trace is recorded",
                           "use nnsight_client.ops.len(x) for a proxy of the length")

    def __repr__(self):
        if self._value is not _MISSING:
            return f"Proxy(node {self._id}, value={self._value!r})"
        node = self._graph.nodes[self._id]
        what = node.get("op") or node.get("key") or node.get("module") or node["kind"]
        return f"Proxy(node {self._id}: {what})"

    # ---- operators --------------------------------------------------------------------------
    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self._rop("add", o)
    def __sub__(self, o): return self._op("sub", o)
    def __rsub__(self, o): return self._rop("sub", o)
    def __mul__(self, o): return self._op("mul", o)
    def __rmul__(self, o): return self._rop("mul", o)
    def __truediv__(self, o): return self._op("truediv", o)
    def __rtruediv__(self, o): return self._rop("truediv", o)
    def __floordiv__(self, o): return self._op("floordiv", o)
    def __rfloordiv__(self, o): return self._rop("floordiv", o)
    def __mod__(self, o): return self._op("mod", o)
    def __rmod__(self, o): return self._rop("mod", o)
    def __pow__(self, o): return self._op("pow", o)
    def __rpow__(self, o): return self._rop("pow", o)
    def __matmul__(self, o): return self._op("matmul", o)
    def __rmatmul__(self, o): return self._rop("matmul", o)
    def __and__(self, o): return self._op("and_", o)
    def __rand__(self, o): return self._rop("and_", o)
    def __or__(self, o): return self._op("or_", o)
    def __ror__(self, o): return self._rop("or_", o)
    def __xor__(self, o): return self._op("xor_", o)
    def __rxor__(self, o): return self._rop("xor_", o)
    def __iadd__(self, o): return self._op("iadd", o)
    def __isub__(self, o): return self._op("isub", o)
    def __imul__(self, o): return self._op("imul", o)
    def __itruediv__(self, o): return self._op("itruediv", o)
    def __neg__(self): return self._op("neg")
    def __pos__(self): return self._op("pos")
    def __abs__(self): return self._op("abs")
    def __invert__(self): return self._op("invert")
    def __eq__(self, o): return self._op("eq", o)
    def __ne__(self, o): return self._op("ne", o)
    def __lt__(self, o): return self._op("lt", o)
    def __le__(self, o): return self._op("le", o)
    def __gt__(self, o): return self._op("gt", o)
    def __ge__(self, o): return self._op("ge", o)
