"""HTTP to `nnsight serve` (docs/server.md) with the standard library."""

import json
import os
import time
import urllib.error
import urllib.request

from .errors import NNsightError


def multipart(parts):
    """(body, content type) of a multipart/form-data body; parts: {name: (filename, content type, bytes)}."""
    while True:
        boundary = "nnsight-" + os.urandom(16).hex()
        if all(boundary.encode() not in content for _, _, content in parts.values()):
            break
    chunks = []
    for name, (filename, ctype, content) in parts.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      f"Content-Type: {ctype}\r\n\r\n".encode())
        chunks.append(content)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), "multipart/form-data; boundary=" + boundary


class Transport:
    def __init__(self, url, api_key=None, timeout=600.0):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def request(self, method, path, body=None, tensors=None):
        """(status, parsed JSON body); HTTP errors are returned, not raised. With `tensors` (safetensors
        bytes) the body is multipart/form-data: the JSON in part "request", the blob in part "tensors"."""
        data = None if body is None else json.dumps(body, allow_nan=False).encode()
        content_type = "application/json"
        if tensors is not None:
            data, content_type = multipart({"request": ("request.json", "application/json", data),
                                            "tensors": ("tensors.safetensors", "application/octet-stream", tensors)})
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.api_key:
            req.add_header("Authorization", "Bearer " + self.api_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, {"error": {"code": "http_error", "message": raw.decode(errors="replace")[:500]}}
        except urllib.error.URLError as e:
            raise NNsightError(f"cannot reach the server at {self.url}: {e.reason}",
                               "is `nnsight serve` running there?") from None

    def run(self, request, tensors=None):
        """POSTs a trace request (and its attached tensors) and waits for the job; (status, job or error body)."""
        status, body = self.request("POST", "/v1/traces?wait=1", request, tensors)
        while status == 202 and isinstance(body, dict) and body.get("status") in ("queued", "running"):
            time.sleep(0.05)
            status, body = self.request("GET", "/v1/jobs/" + body["id"])
        return status, body
