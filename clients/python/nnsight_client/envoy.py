"""Envoy: a module of the remote model, NNsight's ``model.model.layers[2]``."""

import json

from .errors import NNsightError
from .proxy import Proxy


def iteration_json(spec):
    """An iteration spec (int, list of ints, slice) as the format's `iteration`."""
    if isinstance(spec, bool) or spec is None:
        raise NNsightError(f"bad iteration {spec!r}", "use an int, a list of ints or a slice")
    if isinstance(spec, int):
        return spec
    if isinstance(spec, (list, tuple)):
        return [int(s) for s in spec]
    if isinstance(spec, slice):
        return {"slice": [spec.start, spec.stop, spec.step]}
    raise NNsightError(f"bad iteration {spec!r}", "use an int, a list of ints or a slice")


def _covers(prefix, path):
    """Whether an override of module `prefix` applies to module `path` (itself or a descendant)."""
    return prefix == "" or path == prefix or path.startswith(prefix + ".")


class _IterIndexer:
    def __init__(self, envoy):
        self._envoy = envoy

    def __getitem__(self, spec):
        return self._envoy._with_iteration(spec)


class Envoy:
    """A module by path. Attributes and indices reach children; ``.output``,
    ``.input``, ``.inputs`` are proxies of its values in the trace being
    recorded; calling it calls the module out of band (no interventions)."""

    def __init__(self, model, path, iteration=None):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_iteration", iteration)

    # ---- navigation ---------------------------------------------------------------------------
    def _child_path(self, name):
        return f"{self._path}.{name}" if self._path else name

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        tree = self._model._module_tree()
        child = self._child_path(name)
        if tree is None:
            if name in ("weight", "bias"):
                return self._parameter(name)
            return Envoy(self._model, child, self._iteration)
        if child in tree:
            return Envoy(self._model, child, self._iteration)
        if name in tree[self._path]["parameters"]:
            return self._parameter(name)
        raise AttributeError(
            f"module '{self._path or '<root>'}' ({tree[self._path]['type']}) has no child or parameter '{name}'; "
            f"children: {', '.join(self._children(tree)) or 'none'}; "
            f"parameters: {', '.join(tree[self._path]['parameters']) or 'none'}")

    def _children(self, tree):
        prefix = self._path + "." if self._path else ""
        return [p[len(prefix):] for p in tree
                if p.startswith(prefix) and p != self._path and "." not in p[len(prefix):]]

    def __getitem__(self, key):
        if isinstance(key, str):
            envoy = self
            for part in key.split("."):
                envoy = getattr(envoy, part)
            return envoy
        if not isinstance(key, int):
            raise TypeError(f"envoys are indexed by int or str, not {type(key).__name__}")
        tree = self._model._module_tree()
        if tree is None:
            if key < 0:
                raise NNsightError("negative child indices need the module tree", "use RemoteModel(validate=True)")
            return Envoy(self._model, self._child_path(str(key)), self._iteration)
        children = self._children(tree)
        if not -len(children) <= key < len(children):
            raise IndexError(f"module '{self._path}' has {len(children)} children, no child {key}")
        return Envoy(self._model, self._child_path(children[key]), self._iteration)

    def __len__(self):
        tree = self._model._module_tree()
        if tree is None:
            raise NNsightError("len() of an envoy needs the module tree", "use RemoteModel(validate=True)")
        return len(self._children(tree))

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]

    @property
    def path(self):
        return self._path

    def __repr__(self):
        return f"Envoy({self._path or '<root>'})"

    # ---- which call ---------------------------------------------------------------------------
    def _with_iteration(self, spec):
        iteration_json(spec)  # validates
        return Envoy(self._model, self._path, spec)

    @property
    def iter(self):
        """``envoy.iter[1:3].output``: the output at calls 1 and 2 (generation steps). As a context,
        ``with envoy.iter[2]:`` makes every access of this module and its descendants take call 2."""
        return _IterIndexer(self)

    def all(self):
        """An envoy whose accesses take every call (NNsight's ``.all()``); ``with envoy.all():`` as a context."""
        return Envoy(self._model, self._path, slice(None))

    def _current_iteration(self):
        """(spec, call): the calls an access takes, and the single call ``next()`` advances from (None
        when the spec selects several). Explicit ``iter[...]`` first, then the latest ``next()`` /
        ``with ...iter[...]`` of this module or an ancestor in this invoke, else call 0."""
        if self._iteration is not None:
            return self._iteration, None
        g = self._model._graph
        if g is not None and g.open_trace != -1:
            for prefix, spec, call in reversed(g.overrides):
                if _covers(prefix, self._path):
                    return spec, call
        return 0, 0

    def next(self, n=1):
        """Advances this module and its descendants by ``n`` calls (generation steps) for the rest
        of the invoke, as NNsight 0.4's ``envoy.next()``; returns the envoy:
        ``model.lm_head.output`` is step 0, ``model.lm_head.next().output`` step 1. ``model.next()``
        advances every module. Each invoke starts again from call 0."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise NNsightError(f"bad next({n!r})", "next(n) takes a non-negative int")
        g = self._model._recording("next()")
        _, call = self._current_iteration()
        if call is None:
            raise NNsightError(f"next() needs a single current call of '{self._path or '<root>'}'",
                               "next() follows a single call; it cannot follow all() or iter[...] over several "
                               "calls (nor an envoy.iter[k] handle: use envoy.next(k) or `with envoy.iter[k]:`)")
        g.overrides.append((self._path, call + n, call + n))
        return Envoy(self._model, self._path)

    def __enter__(self):
        if self._iteration is None:
            raise NNsightError("only envoy.iter[...] and envoy.all() are contexts",
                               "write `with model.model.layers[0].iter[2]:` or `with model.lm_head.all():`")
        g = self._model._recording("`with envoy.iter[...]`")
        object.__setattr__(self, "_depth", len(g.overrides))
        spec = self._iteration
        call = spec if isinstance(spec, int) else None
        g.overrides.append((self._path, spec, call))
        return Envoy(self._model, self._path)

    def __exit__(self, *exc):
        g = self._model._graph
        if g is not None:
            del g.overrides[self._depth:]
        return False

    # ---- module values ---------------------------------------------------------------------------
    def _key(self, point):
        return f"{self._path}.{point}" if self._path else point

    def _entry(self, point):
        g = self._model._recording("a module value")
        iteration = iteration_json(self._current_iteration()[0])
        cache_key = (self._key(point), json.dumps(iteration), g.batch_group, g.current_context())
        proxy = g.entries.get(cache_key)
        if proxy is None:
            proxy = Proxy(g, g.add("entry", key=self._key(point), iteration=iteration, batch_group=g.batch_group))
            g.entries[cache_key] = proxy
        return proxy

    def _forget(self, point):
        g = self._model._recording("a module value")
        key = self._key(point)
        for k in [k for k in g.entries if k[0] == key and k[2] == g.batch_group]:
            del g.entries[k]

    @property
    def output(self):
        return self._entry("output")

    @output.setter
    def output(self, value):
        g = self._model._recording("setting a module's output")
        g.add("swap", target=self._entry("output")._id, value=g.value(value))
        self._forget("output")  # a later .output sees the replacement

    @property
    def inputs(self):
        """All inputs as ``((args...), {kwargs})``."""
        return self._entry("input")

    @property
    def input(self):
        """The first positional input."""
        return self.inputs[0][0]

    @input.setter
    def input(self, value):
        g = self._model._recording("setting a module's input")
        pair = self._entry("input")
        args = pair[0]
        new_args = g.op("add", ((value,), args[1:]))
        g.add("swap", target=pair._id, value=g.value((new_args, pair[1])))
        self._forget("input")

    def skip(self, value):
        """Does not run the module; ``value`` is its output."""
        g = self._model._recording("skipping a module")
        g.add("swap", target=self._entry("skip")._id, value=g.value(value))
        self._forget("skip")

    def __setattr__(self, name, value):
        if name in ("output", "input") or name.startswith("_"):
            object.__setattr__(self, name, value)  # the property setters
            return
        raise AttributeError(f"cannot set '{name}' on an envoy; only .output and .input can be replaced")

    # ---- out-of-band calls and parameters -----------------------------------------------------------
    def __call__(self, *args, **kwargs):
        g = self._model._recording("calling a module", in_trace=False)
        fields = {"module": self._path, "args": [g.value(a) for a in args]}
        if kwargs:
            fields["kwargs"] = [[k, g.value(v)] for k, v in kwargs.items()]
        return Proxy(g, g.add("module_call", **fields))

    def _parameter(self, name):
        g = self._model._recording("a parameter", in_trace=False)
        return Proxy(g, g.add("parameter", module=self._path, name=name))
