"""End-to-end test of the Python client against a real `nnsight serve` on loopback.

Env: NNSIGHT_CLI_PATH (the nnsight binary, default build/apps/nnsight),
NNSIGHT_MODELS_DIR (default ../shared/models relative to the repo).
Results are compared exactly with `nnsight run` on the very document the client sent.
"""

import inspect
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

from nnsight_client import RemoteError, RemoteModel  # noqa: E402
from nnsight_client.values import decode_tensor  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CLI = os.environ.get("NNSIGHT_CLI_PATH", os.path.join(REPO, "build", "apps", "nnsight"))
MODELS = os.environ.get("NNSIGHT_MODELS_DIR", os.path.join(REPO, "..", "shared", "models"))
MODEL_DIR = os.path.join(MODELS, "stories260K-hf")
TOKENIZER = os.path.join(MODELS, "stories260K", "tok512.bin")
API_KEY = "test-key-0123456789abcdef"

_SAFETENSORS = {"F32": ("f", "float32"), "F64": ("d", "float64"), "I64": ("q", "int64"), "I32": ("i", "int32"),
                "BOOL": ("?", "bool"), "U8": ("B", "uint8")}


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
class ClientTest(unittest.TestCase):
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

    def run_locally(self, document):
        """The saved values of `nnsight run` on the same document: {save node id: (dtype, shape, flat)}."""
        graph = os.path.join(self.tmp.name, "graph.json")
        out = os.path.join(self.tmp.name, "out.safetensors")
        with open(graph, "w") as f:
            json.dump(document, f)
        subprocess.run([CLI, "run", graph, "--model", MODEL_DIR, "--tokenizer", TOKENIZER, "--out", out,
                        "--threads", "1"], check=True, capture_output=True)
        return {int(k[len("node_"):]): v for k, v in read_safetensors(out).items()}

    def assert_same_as_local(self, tracer, saved):
        local = self.run_locally(tracer.document)
        self.assertEqual(len(local), len(saved))
        for proxy in saved:
            save_id = next(k for k, p in tracer._graph.saves.items() if p is proxy)
            dtype, shape, flat = local[save_id]
            got, got_shape = flat_of(proxy.value)
            self.assertEqual(got_shape, shape)
            self.assertEqual(got, flat, f"save node {save_id} differs from nnsight run")  # exact

    def test_activation_patching(self):
        model = self.model
        with model.trace() as tracer:
            with tracer.invoke("Lily went to the park"):
                clean = model.model.layers[2].output[0][:, -1].clone().save()
                clean_logits = model.lm_head.output[:, -1].save()
            with tracer.invoke("Tom went to the shop"):
                model.model.layers[2].output[0][:, -1] = clean
                patched = model.model.layers[2].output[0][:, -1].save()
                patched_logits = model.lm_head.output[:, -1].save()
        self.assertEqual(list(clean.value.shape), [1, 64])
        self.assertEqual(list(patched_logits.value.shape), [1, 512])
        self.assertEqual(clean.value.tolist(), patched.value.tolist())  # the patch took
        self.assertNotEqual(clean_logits.value.tolist(), patched_logits.value.tolist())
        self.assert_same_as_local(tracer, [clean, clean_logits, patched, patched_logits])

        # The unpatched corrupted run differs from the patched one.
        with model.trace("Tom went to the shop") as plain:
            corrupt_logits = model.lm_head.output[:, -1].save()
        self.assertNotEqual(corrupt_logits.value.tolist(), patched_logits.value.tolist())
        self.assert_same_as_local(plain, [corrupt_logits])

    def test_logit_lens(self):
        model = self.model
        with model.trace("Once upon a time") as tracer:
            lens = [model.lm_head(model.model.norm(layer.output[0])).softmax(-1).save()
                    for layer in model.model.layers]
            logits = model.lm_head.output.save()
            probs = (logits.softmax(-1) * 1.0).save()
        self.assertEqual(len(lens), 5)
        self.assertEqual(list(lens[0].value.shape), list(logits.value.shape))
        # The last layer's lens is the model's own output distribution, computed another way.
        self.assertEqual(lens[-1].value.tolist(), probs.value.tolist())
        self.assert_same_as_local(tracer, lens + [logits, probs])

    def test_nested_lists_without_numpy(self):
        model = RemoteModel(self.url, api_key=API_KEY, numpy=False)
        with model.trace("Once upon a time"):
            h = model.model.layers[0].output[0][0, :2, :3].save()
            top = model.lm_head.output[0, -1].argmax(-1).save()
        self.assertIsInstance(top.value, int)
        self.assertEqual([len(h.value), len(h.value[0])], [2, 3])
        self.assertIsInstance(h.value[0][0], float)

    def test_bad_module_path_names_the_client_line(self):
        model = RemoteModel(self.url, api_key=API_KEY, validate=False)  # let the server find it
        line = None
        with self.assertRaises(RemoteError) as caught:
            with model.trace("Once upon a time"):
                line = inspect.currentframe().f_lineno + 1
                model.model.layers[9].output.save()
        e = caught.exception
        self.assertEqual((e.status, e.code), (422, "run_failed"))
        self.assertIn("no module named '9'", e.message)
        self.assertEqual(e.node, 1)
        self.assertEqual(e.client_location[1:], (line, "test_bad_module_path_names_the_client_line"))
        self.assertTrue(e.client_location[0].endswith("test_client.py"))
        self.assertIn(f"test_client.py:{line}", str(e))
        self.assertIn(f"test_client.py:{line}", e.location)

    def test_validated_paths_fail_while_recording(self):
        with self.assertRaises(AttributeError) as caught:
            with self.model.trace("Once upon a time"):
                self.model.model.layerz
        self.assertIn("children: embed_tokens, layers, norm", str(caught.exception))

    def test_wrong_api_key(self):
        model = RemoteModel(self.url, api_key="wrong-key-0123456789")
        with self.assertRaises(RemoteError) as caught:
            with model.trace("Once upon a time"):
                pass
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_examples(self):
        import activation_patching
        import logit_lens
        layers = logit_lens.logit_lens(self.model, "Once upon a time")
        self.assertEqual(len(layers), 5)
        self.assertTrue(all(0 <= t < 512 and 0 < p <= 1 for t, p in layers))
        clean, patched = activation_patching.patch(self.model, 4)
        self.assertEqual(clean.tolist(), patched.tolist())  # patching the last layer's last token


if __name__ == "__main__":
    unittest.main()
