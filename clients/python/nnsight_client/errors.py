"""Exceptions of the nnsight client."""


class NNsightError(Exception):
    """A mistake found by the client itself while recording a trace."""

    def __init__(self, message, hint=None):
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


class UnsupportedOpError(NNsightError, AttributeError):
    """An operation the server's closed op set (src/nnsight/graph/ops.h) does not have.

    Also an AttributeError, so ``hasattr(proxy, "sqrt")`` is False. ``op`` is its name.
    """

    def __init__(self, op, message, hint=None):
        self.op = op
        super().__init__(message, hint)


class RemoteError(NNsightError):
    """The server rejected the request or the graph failed while running.

    Attributes mirror the server's error object (docs/server.md, "Errors"):
    ``status`` (HTTP status), ``code``, ``message``, ``where``, ``hint``,
    ``node`` and ``op`` (when the error concerns a node), ``location`` (the
    server's rendering of the node's ``loc``) and ``client_location``: the
    ``(file, line, function)`` where this client recorded the node.
    """

    def __init__(self, status, error, client_location=None):
        self.status = status
        self.error = error
        self.code = error.get("code")
        self.message = error.get("message", "")
        self.where = error.get("where")
        self.hint = error.get("hint")
        self.node = error.get("node")
        self.op = error.get("op")
        self.location = error.get("location")
        self.client_location = client_location
        Exception.__init__(self, self._render())

    def _render(self):
        lines = [f"{self.message} [{self.status} {self.code}]"]
        if self.client_location is not None:
            file, line, function = self.client_location
            node = f"node {self.node}" + (f" ({self.op})" if self.op else "") if self.node is not None else "a node"
            lines.append(f"  recorded at {file}:{line} in {function}: {node}")
        if self.where:
            lines.extend("  " + w for w in self.where.splitlines())
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)
