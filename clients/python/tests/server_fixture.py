"""The shared fixture of the client tests: a real `nnsight serve` on a free loopback port, and
`nnsight run` of the same documents for exact comparisons.

Env: NNSIGHT_CLI_PATH (the nnsight binary, default build/apps/nnsight),
NNSIGHT_MODELS_DIR (default ../shared/models relative to the repo).
"""

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

from nnsight_client import RemoteModel  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CLI = os.environ.get("NNSIGHT_CLI_PATH", os.path.join(REPO, "build", "apps", "nnsight"))
MODELS = os.environ.get("NNSIGHT_MODELS_DIR", os.path.join(REPO, "..", "shared", "models"))
MODEL_DIR = os.path.join(MODELS, "stories260K-hf")
TOKENIZER = os.path.join(MODELS, "stories260K", "tok512.bin")
API_KEY = "test-key-0123456789abcdef"

SCHEMA = os.path.join(REPO, "docs", "graph-format.schema.json")

try:
    import jsonschema
except ImportError:  # optional: documents are then only checked by the server and `nnsight run`
    jsonschema = None

_SAFETENSORS = {"F32": ("f", "float32"), "F64": ("d", "float64"), "F16": ("e", "float16"), "I64": ("q", "int64"),
                "I32": ("i", "int32"), "I16": ("h", "int16"), "I8": ("b", "int8"), "BOOL": ("?", "bool"),
                "U8": ("B", "uint8")}


def read_safetensors(path):
    """{name: (dtype, shape, flat values)} of a safetensors file (standard library only)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        code, dtype = _SAFETENSORS[info["dtype"]]
        begin, end = info["data_offsets"]
        count = (end - begin) // struct.calcsize(code)
        flat = list(struct.unpack_from("<%d%s" % (count, code), raw, 8 + n + begin))
        out[name] = (dtype, info["shape"], flat)
    return out


def flat_of(value):
    """Row-major elements and shape of a numpy array or nested lists."""
    if hasattr(value, "tolist"):
        return list(value.reshape(-1).tolist()), list(value.shape)
    shape, flat, stack = [], [], value
    while isinstance(stack, list):
        shape.append(len(stack))
        stack = stack[0] if stack else None

    def walk(v):
        if isinstance(v, list):
            for x in v:
                walk(x)
        else:
            flat.append(v)
    walk(value)
    return flat, shape


# Missing binary or model: skipped locally, a failure under CI=true (as REQUIRE_MODEL in the C++ tests).
_IN_CI = os.environ.get("CI") == "true"


@unittest.skipUnless(_IN_CI or os.path.exists(CLI), f"nnsight binary not found at {CLI} (set NNSIGHT_CLI_PATH)")
@unittest.skipUnless(_IN_CI or os.path.isdir(MODEL_DIR), f"model not found at {MODEL_DIR} (set NNSIGHT_MODELS_DIR)")
class ServerTestCase(unittest.TestCase):
    """One server per test class; `self.model` is a RemoteModel with the test key."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        keys = os.path.join(cls.tmp.name, "keys")
        with open(keys, "w") as f:
            f.write(f"# test keys\ntester {API_KEY}\n")
        cls.stderr = open(os.path.join(cls.tmp.name, "serve.log"), "w+")
        cls.server = subprocess.Popen(
            [CLI, "serve", "--model", f"stories={MODEL_DIR}", "--tokenizer", f"stories={TOKENIZER}",
             "--host", "127.0.0.1", "--port", "0", "--api-keys", keys, "--threads", "1", "--http-threads", "2"],
            stdout=subprocess.DEVNULL, stderr=cls.stderr)
        cls.url = cls._wait_for_server()

    @classmethod
    def _wait_for_server(cls):
        deadline = time.time() + 60
        while time.time() < deadline:
            if cls.server.poll() is not None:
                raise RuntimeError("nnsight serve exited: " + cls._log())
            for line in cls._log().splitlines():
                if "listening on http://" in line:
                    url = line.split("listening on ")[1].strip()
                    try:
                        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
                            if json.loads(r.read())["status"] == "ok":
                                return url
                    except OSError:
                        pass
            time.sleep(0.1)
        raise RuntimeError("nnsight serve did not start: " + cls._log())

    @classmethod
    def _log(cls):
        cls.stderr.flush()
        cls.stderr.seek(0)
        return cls.stderr.read()

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        try:
            cls.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait()
        cls.stderr.close()
        cls.tmp.cleanup()

    def setUp(self):
        self.model = RemoteModel(self.url, api_key=API_KEY)

    def assert_valid_document(self, document):
        """The document validates against docs/graph-format.schema.json (when jsonschema is installed)."""
        if jsonschema is None or not os.path.exists(SCHEMA):
            return
        with open(SCHEMA) as f:
            validator = jsonschema.Draft202012Validator(json.load(f))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        self.assertEqual(errors, [], "the document does not fit the graph-format schema")

    def run_locally(self, document, tensors=None):
        """The saved values of `nnsight run` on the same document: {save node id: (dtype, shape, flat)};
        an element k of a saved list or tuple is under the key "id.k". `tensors`: the attached blob."""
        graph = os.path.join(self.tmp.name, "graph.json")
        out = os.path.join(self.tmp.name, "out.safetensors")
        with open(graph, "w") as f:
            json.dump(document, f)
        command = [CLI, "run", graph, "--model", MODEL_DIR, "--tokenizer", TOKENIZER, "--out", out, "--threads", "1"]
        if tensors is not None:
            blob = os.path.join(self.tmp.name, "tensors.safetensors")
            with open(blob, "wb") as f:
                f.write(tensors)
            command += ["--tensors", blob]
        subprocess.run(command, check=True, capture_output=True)
        local = {}
        for k, v in read_safetensors(out).items():
            if k.startswith("node_"):
                name = k[len("node_"):]
                local[int(name) if name.isdigit() else name] = v
        return local

    def assert_same_as_local(self, owner, saved):
        """The values of `saved` (proxies of `owner`, a tracer or session) equal `nnsight run`'s exactly,
        and `nnsight run` saved nothing else (tensors and lists of tensors)."""
        g = owner._graph
        self.assert_valid_document(owner.document)
        blob = g.attachments.to_bytes() if len(g.attachments) else None
        local = self.run_locally(owner.document, blob)
        compared = set()
        for proxy in saved:
            save_id = next(k for k, p in g.saves.items() if p is proxy)
            value = proxy.value
            items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
            for k, item in items:
                key = save_id if k is None else f"{save_id}.{k}"
                dtype, shape, flat = local[key]
                got, got_shape = flat_of(item)
                self.assertEqual(got_shape, shape, f"save {key}")
                self.assertEqual(got, flat, f"save {key} differs from nnsight run")  # exact
                compared.add(key)
        self.assertEqual(set(local), compared)
