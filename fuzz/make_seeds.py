#!/usr/bin/env python3
"""Writes small seed corpora for the fuzz targets from the test models (../shared/models).

    make_seeds.py MODELS_DIR OUT_DIR

One folder per target under OUT_DIR. Large model files are shrunk (fewer and
smaller tensors, truncated vocabularies) so that mutations stay fast while the
seeds still reach deep into each parser. Standard library only.
"""
import json
import os
import struct
import sys


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- safetensors ---------------------------------------------------------------------

def shrink_safetensors(data, max_bytes=2048, max_tensors=6):
    n = struct.unpack_from("<Q", data)[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out_header, chunks, offset = {}, [], 0
    if "__metadata__" in header:
        out_header["__metadata__"] = header["__metadata__"]
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        if en - b > max_bytes or len(chunks) >= max_tensors:
            continue
        out_header[name] = {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": [offset, offset + en - b]}
        chunks.append(body[b:en])
        offset += en - b
    h = json.dumps(out_header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


# ---- GGUF ------------------------------------------------------------------------------

SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return v[0]

    def raw(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def string(self):
        return self.raw(self.take("Q"))


def read_value(r, t, max_items):
    """The value's bytes (arrays truncated to max_items elements)."""
    if t in SCALAR:
        return r.raw(struct.calcsize("<" + SCALAR[t]))
    if t == 8:
        s = r.string()
        return struct.pack("<Q", len(s)) + s
    if t == 9:
        et, n = r.take("I"), r.take("Q")
        items = [read_value(r, et, max_items) for _ in range(n)]
        kept = items[:max_items]
        return struct.pack("<IQ", et, len(kept)) + b"".join(kept)
    raise ValueError("unknown GGUF value type %d" % t)


def shrink_gguf(data, max_items=48, max_tensor_bytes=4096):
    r = Reader(data)
    magic, version, n_tensors, n_kv = r.raw(4), r.take("I"), r.take("Q"), r.take("Q")
    kvs, alignment = [], 32
    for _ in range(n_kv):
        key = r.string()
        t = r.take("I")
        v = read_value(r, t, max_items)
        if key == b"general.alignment":
            alignment = struct.unpack("<I", v)[0]
        kvs.append(struct.pack("<Q", len(key)) + key + struct.pack("<I", t) + v)
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        t, off = r.take("I"), r.take("Q")
        infos.append((name, dims, t, off))
    start = (r.pos + alignment - 1) // alignment * alignment
    kept, blobs, offset = [], [], 0
    for name, dims, t, off in infos:
        numel = 1
        for d in dims:
            numel *= d
        size = {0: 4, 1: 2}.get(t, 0) * numel
        if size == 0 or size > max_tensor_bytes:
            continue
        kept.append(struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims)) +
                    b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", t, offset))
        blob = data[start + off:start + off + size]
        blob += b"\0" * ((alignment - len(blob) % alignment) % alignment)
        blobs.append(blob)
        offset += len(blob)
    head = magic + struct.pack("<IQQ", version, len(kept), len(kvs)) + b"".join(kvs) + b"".join(kept)
    head += b"\0" * ((alignment - len(head) % alignment) % alignment)
    return head + b"".join(blobs)


# ---- llama2.c ---------------------------------------------------------------------------

def llama2c_checkpoint(dim, hidden, layers, heads, kv_heads, vocab, seq, shared=True):
    head = dim // heads
    kv = kv_heads * head
    floats = vocab * dim + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim)
    floats += dim + 2 * seq * (head // 2) + (0 if shared else vocab * dim)
    header = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if shared else -vocab, seq)
    return header + struct.pack("<%df" % floats, *[(i % 17) / 17.0 for i in range(floats)])


def truncate_llama2c_tokenizer(data, tokens):
    pos = 4
    for _ in range(tokens):
        n = struct.unpack_from("<i", data, pos + 4)[0]
        pos += 8 + n
    return data[:pos]


# ---- tokenizer.json ----------------------------------------------------------------------

def shrink_tokenizer_json(j, vocab_size=300, merges=200):
    j = json.loads(json.dumps(j))
    model = j["model"]
    model["vocab"] = {k: v for k, v in model["vocab"].items() if v < vocab_size}
    model["merges"] = [m for m in model.get("merges", [])[:merges * 20]
                       if all(p in model["vocab"] for p in (m.split(" ") if isinstance(m, str) else m))][:merges]
    j["added_tokens"] = [dict(t, id=vocab_size) for t in j.get("added_tokens", [])[:1]]
    return j


def sentencepiece_tokenizer_json(tok_bin):
    """A Llama-style (Metaspace, byte_fallback) tokenizer.json with tok512.bin's pieces."""
    r = Reader(tok_bin)
    r.take("i")
    vocab = {}
    while r.pos < len(tok_bin):
        r.take("f")
        piece = r.raw(r.take("i")).decode("utf-8", "replace").replace(" ", "\u2581")
        vocab.setdefault(piece, len(vocab))
    return {
        "added_tokens": [{"id": 1, "content": "<s>", "special": True}, {"id": 2, "content": "</s>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "\u2581"}]},
        "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                    {"Sequence": {"id": "A", "type_id": 0}}]},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"},
                                                      "content": " "}, {"type": "Strip", "content": " ",
                                                                        "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": vocab,
                  "merges": ["\u2581 t", "h e", "\u2581t he"]},
    }


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_seeds.py MODELS_DIR OUT_DIR")
    m, out = sys.argv[1], sys.argv[2]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    # safetensors
    write(f"{out}/safetensors/toy.safetensors", read(f"{m}/tiny-gpt2-toyvocab-random/model.safetensors"))
    write(f"{out}/safetensors/stories-hf.safetensors", shrink_safetensors(read(f"{m}/stories260K-hf/model.safetensors")))
    write(f"{out}/safetensors/gpt2.safetensors", shrink_safetensors(read(f"{m}/fake-gpt2-random/model.safetensors")))

    # GGUF
    write(f"{out}/gguf/stories.gguf", shrink_gguf(read(f"{m}/stories260K/stories260K.gguf")))
    write(f"{out}/gguf/gpt2.gguf", shrink_gguf(read(f"{m}/fake-gpt2-random/fake-gpt2-random.gguf")))
    write(f"{out}/gguf/vocab.gguf", shrink_gguf(read(f"{m}/gpt2-tokenizer/ggml-vocab-gpt-2.gguf")))

    # llama2.c checkpoints
    write(f"{out}/llama2c/tiny-shared.bin", llama2c_checkpoint(8, 12, 1, 2, 1, 6, 4, shared=True))
    write(f"{out}/llama2c/tiny-separate.bin", llama2c_checkpoint(4, 6, 2, 2, 2, 5, 3, shared=False))
    write(f"{out}/llama2c/stories-header.bin", read(f"{m}/stories260K/stories260K.bin")[:28])

    # llama2.c tokenizer
    tok = read(f"{m}/stories260K/tok512.bin")
    write(f"{out}/llama2c_tokenizer/tok512.bin", tok)
    write(f"{out}/llama2c_tokenizer/tok300.bin", truncate_llama2c_tokenizer(tok, 300))

    # tokenizer files: mode byte 0 = tokenizer.json [\0 config], 1 = vocab \0 merges [\0 config [\0 map]]
    gpt2 = json.loads(read(f"{m}/fake-gpt2-random/tokenizer.json"))
    config = read(f"{m}/fake-gpt2-random/tokenizer_config.json")
    write(f"{out}/tokenizer_files/gpt2-json", b"\0" + json.dumps(shrink_tokenizer_json(gpt2)).encode() + b"\0" + config)
    write(f"{out}/tokenizer_files/llama-json", b"\0" + json.dumps(sentencepiece_tokenizer_json(tok)).encode())
    toy = f"{m}/tiny-gpt2-toyvocab-random"
    write(f"{out}/tokenizer_files/toy-pair", b"\1" + read(f"{toy}/vocab.json") + b"\0" + read(f"{toy}/merges.txt") +
          b"\0" + read(f"{toy}/tokenizer_config.json") + b"\0" + read(f"{toy}/special_tokens_map.json"))
    vocab = {k: v for k, v in json.loads(read(f"{m}/gpt2-tokenizer/encoder.json")).items() if v < 400}
    merges = read(f"{m}/gpt2-tokenizer/vocab.bpe").split(b"\n")[:120]
    write(f"{out}/tokenizer_files/gpt2-pair", b"\1" + json.dumps(vocab).encode() + b"\0" + b"\n".join(merges))

    # encode/decode: selector byte (tokenizer), flags byte, text
    texts = read(f"{m}/gpt2-tokenizer/ggml-vocab-gpt-2.gguf.inp").split(b"\n__ggml_vocab_test__\n")
    texts = [t for t in texts if t][:12] + ["Once upon a time, Lily went to the park.".encode(),
                                           "<|endoftext|> caf\u00e9 \U0001F600\xff".encode("utf-8", "surrogatepass")]
    for sel in range(5):
        for i, t in enumerate(texts):
            write(f"{out}/tokenizer_encode/t{sel}-{i}", bytes([sel, (i % 4)]) + t)

    # graph JSON examples of the docs (the sample graphs of tests/format come from make_graph_seeds)
    for doc in ("graph-format.md", "server.md"):
        text = read(f"{root}/docs/{doc}").decode()
        for i, block in enumerate(text.split("```json")[1:]):
            body = block.split("```")[0]
            if '"nodes"' in body:
                write(f"{out}/graph_json/{doc[:-3]}-{i}.json", body)


if __name__ == "__main__":
    main()
