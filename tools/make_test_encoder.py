#!/usr/bin/python3
"""Build a small BERT-style sentence encoder with fixed random weights, for tests and the demo.

Run with /usr/bin/python3 (the Python that has torch):

    /usr/bin/python3 tools/make_test_encoder.py --out build/testdata/encoder \
        --build-vocab-from examples/catalog.jsonl
    /usr/bin/python3 tools/make_test_encoder.py --out /tmp/enc \
        --vocab /work/shared/tokenizers/bert-base-uncased/vocab.txt

It writes a semrec.encoder.v1 model folder that core/encoder loads:

    DIR/model.pt       TorchScript (torch.jit.script), forward(input_ids, attention_mask) -> [B, T, dim]
    DIR/vocab.txt      WordPiece vocabulary (a copy of --vocab, or built from a catalog)
    DIR/manifest.json  written last; also records the generator arguments under "generator"

Architecture (the real BERT shape, just small): token embeddings + learned position embeddings
+ token-type embedding (type 0 only) -> LayerNorm -> N post-LN transformer encoder layers
(multi-head self-attention with the attention mask as key padding mask, then a GELU feed-forward
block, each followed by residual add + LayerNorm). The output is the last hidden state; pooling
and normalization are done by the C++ side as the manifest says (mean, normalize).

Why the weights are initialised the way they are: with fully random weights a transformer mixes
tokens into noise and every sentence ends up near every other one, which makes a useless demo.
Here the residual stream is kept dominated by token identity, so that after mean pooling two
texts that share words are close (a lexical, bag-of-words-like similarity):
  * token embeddings ~ N(0, 1): nearly orthogonal, a strong per-token signal;
  * position and token-type embeddings ~ N(0, 0.02): small, so the same word at different
    positions gets nearly the same vector;
  * Q/K/V and FFN input projections ~ N(0, 1/dim) (variance-preserving), so the layers do real,
    non-trivial work, but the attention and FFN output projections ~ N(0, 0.02) (FFN rows made
    zero-sum so GELU's positive mean adds no shared offset), so each sublayer only nudges the
    residual stream; biases are zero and LayerNorms start as identity.
  * "Background" tokens (special tokens, punctuation, a short list of English function words)
    would otherwise dominate every mean-pooled text, since they occur in all of them. Their
    embedding is put on one reserved axis (dimension 0) that no sublayer reads or writes, and
    the final LayerNorm scales that axis by --background-scale (0.1): in the output they are
    several times shorter than content tokens and nearly parallel, a crude IDF-like weighting.
The model is still fully exercised (masking, shapes, dtypes, every op the C++ side relies on).
Similarities are lexical only. The default dimension is 384 (6 heads), the size of MiniLM-class
models: at 128 dimensions random vectors for ~3000 words give noticeable cross-talk and
item-to-item neighbours are only roughly topical; at 384 a space-opera fan gets space stories.

Deterministic: the same arguments (and the same input files and script) give the same weights.
When --out already holds a manifest whose "generator" record equals the current one and model.pt
exists, it prints "up to date" and exits 0 (touching manifest.json for build systems) unless
--force is given.
"""

import argparse
import collections
import hashlib
import json
import math
import os
import shutil
import sys
import time
import unicodedata
from typing import List

import torch
from torch import Tensor, nn
import torch.nn.functional as F

FORMAT = "semrec.encoder.v1"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Function words that carry no topic; with punctuation and the special tokens they are the
# "background" tokens (see init_weights).
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves s t d ll m re ve
""".split())
GENERATOR_VERSION = 1


# --------------------------------------------------------------------------------------------
# Model


class EncoderLayer(nn.Module):
    """One post-LN BERT layer: x = LN(x + Attn(x)); x = LN(x + FFN(x))."""

    def __init__(self, dim: int, heads: int, ffn_dim: int):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"--dim {dim} is not divisible by --heads {heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=1e-12)
        self.ffn_in = nn.Linear(dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: Tensor, key_bias: Tensor) -> Tensor:
        # x: [B, T, D]; key_bias: [B, 1, 1, T], 0 for real keys and a large negative for padding.
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, T, Dh]
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale + key_bias
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, d)
        x = self.attn_norm(x + self.attn_out(ctx))
        h = F.gelu(self.ffn_in(x))
        return self.ffn_norm(x + self.ffn_out(h))


class TestEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int, layers: int, heads: int, max_length: int):
        super().__init__()
        self.max_length = max_length
        self.token_embeddings = nn.Embedding(vocab_size, dim)
        self.position_embeddings = nn.Embedding(max_length, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.embedding_norm = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList([EncoderLayer(dim, heads, 4 * dim) for _ in range(layers)])

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        t = input_ids.size(1)
        positions = torch.arange(t, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = (self.token_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings.weight[0])
        x = self.embedding_norm(x)
        # Key padding mask as an additive bias; finite so a row that is all padding gives
        # uniform attention instead of NaN.
        key_bias = (1.0 - attention_mask.to(x.dtype)) * -1.0e9
        key_bias = key_bias.unsqueeze(1).unsqueeze(2)
        for layer in self.layers:
            x = layer(x, key_bias)
        return x


def is_background_token(token: str) -> bool:
    if token in SPECIAL_TOKENS or token.lower() in STOPWORDS:
        return True
    bare = token[2:] if token.startswith("##") else token
    return len(bare) == 1 and _is_punctuation(bare)


def init_weights(model: TestEncoder, vocab: List[str], dim: int, background_scale: float) -> None:
    """Token identity dominates the residual stream; see the module docstring."""
    small = 0.02
    with torch.no_grad():
        emb = model.token_embeddings.weight
        nn.init.normal_(emb, std=1.0)
        background = torch.tensor([is_background_token(t) for t in vocab], dtype=torch.bool)
        emb[:, 0] = 0.0  # axis 0 is reserved for background tokens
        emb[background] = torch.randn(int(background.sum()), dim) * small
        emb[background, 0] = math.sqrt(dim)
        nn.init.normal_(model.position_embeddings.weight, std=small)
        nn.init.normal_(model.token_type_embeddings.weight, std=small)
        for layer in model.layers:
            nn.init.normal_(layer.qkv.weight, std=1.0 / math.sqrt(dim))
            nn.init.normal_(layer.ffn_in.weight, std=1.0 / math.sqrt(dim))
            nn.init.normal_(layer.attn_out.weight, std=small)
            nn.init.normal_(layer.ffn_out.weight, std=small)
            # GELU outputs have a positive mean; zero-sum rows keep that from adding one shared
            # vector to every token.
            layer.ffn_out.weight -= layer.ffn_out.weight.mean(dim=1, keepdim=True)
            for lin in (layer.qkv, layer.attn_out, layer.ffn_in, layer.ffn_out):
                nn.init.zeros_(lin.bias)
            # Sublayers neither read nor write the background axis.
            layer.qkv.weight[:, 0] = 0.0
            layer.ffn_in.weight[:, 0] = 0.0
            layer.attn_out.weight[0, :] = 0.0
            layer.ffn_out.weight[0, :] = 0.0
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        final_norm = model.layers[-1].ffn_norm if len(model.layers) else model.embedding_norm
        final_norm.weight[0] = background_scale


# --------------------------------------------------------------------------------------------
# Vocabulary (BERT BasicTokenizer normalization: clean, lower-case, strip accents, split on
# whitespace and punctuation, isolate CJK characters)


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text: str) -> List[str]:
    chars = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            chars.append(" ")
        elif _is_cjk(cp):
            chars.extend((" ", ch, " "))
        else:
            chars.append(ch)
    words = []
    for word in "".join(chars).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current = []
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(ch)
            else:
                current.append(ch)
        if current:
            words.append("".join(current))
    return words


def build_vocab(catalog_path: str, vocab_size: int) -> List[str]:
    """[PAD] [UNK] [CLS] [SEP] [MASK], then every character seen (bare, then ##c), then the most
    frequent whole words (ties alphabetical) until vocab_size."""
    counts = collections.Counter()
    with open(catalog_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"{catalog_path}:{n}: not a JSON object with a \"text\": {e}")
            counts.update(basic_tokenize(str(text)))
    chars = sorted({ch for word in counts for ch in word})
    vocab = list(SPECIAL_TOKENS) + chars + ["##" + ch for ch in chars]
    if len(vocab) > vocab_size:
        raise SystemExit(f"--vocab-size {vocab_size} is too small: the special tokens and "
                         f"characters alone need {len(vocab)}")
    seen = set(vocab)
    for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        if word not in seen:
            vocab.append(word)
            seen.add(word)
    return vocab


def read_vocab(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        vocab = [line.rstrip("\n").rstrip("\r") for line in f]
    while vocab and vocab[-1] == "":
        vocab.pop()
    missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in vocab]
    if missing:
        raise SystemExit(f"{path}: vocabulary lacks {', '.join(missing)}")
    return vocab


# --------------------------------------------------------------------------------------------
# Output


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def manifest_for(name: str, dim: int, max_length: int, generator: dict) -> dict:
    return {
        "format": FORMAT,
        "name": name,
        "model_file": "model.pt",
        "dimension": dim,
        "max_length": max_length,
        "output": "token_embeddings",
        "pooling": "mean",
        "normalize": True,
        "query_prefix": "",
        "document_prefix": "",
        "tokenizer": {
            "kind": "wordpiece",
            "vocab_file": "vocab.txt",
            "lowercase": True,
            "tokenize_chinese_chars": True,
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
        },
        "generator": generator,
    }


def sanity_check(path: str, vocab_size: int, dim: int, max_length: int, pad_id: int) -> None:
    model = torch.jit.load(path, map_location="cpu")
    model.eval()
    g = torch.Generator().manual_seed(99)
    low = min(5, vocab_size - 1)
    with torch.no_grad():
        shapes = [(2, min(7, max_length)), (3, max_length), (1, 1)]
        for b, t in shapes:
            ids = torch.randint(low, vocab_size, (b, t), generator=g, dtype=torch.long)
            mask = torch.ones(b, t, dtype=torch.long)
            out = model(ids, mask)
            if out.dtype != torch.float32 or tuple(out.shape) != (b, t, dim):
                raise SystemExit(f"sanity check: output {out.dtype} {tuple(out.shape)} for input "
                                 f"[{b}, {t}], expected float32 [{b}, {t}, {dim}]")
            if not torch.isfinite(out).all():
                raise SystemExit("sanity check: non-finite output")
        # Padding must not change the real tokens' outputs: encode a short row alone, then padded
        # (with arbitrary ids at the padded positions) in a batch next to a longer row.
        t_short, t_long = min(5, max_length), min(11, max_length)
        short = torch.randint(low, vocab_size, (1, t_short), generator=g, dtype=torch.long)
        alone = model(short, torch.ones(1, t_short, dtype=torch.long))
        ids = torch.randint(low, vocab_size, (2, t_long), generator=g, dtype=torch.long)
        ids[0, :t_short] = short[0]
        mask = torch.ones(2, t_long, dtype=torch.long)
        mask[0, t_short:] = 0
        padded = model(ids, mask)
        ids[0, t_short:] = pad_id
        padded_pad = model(ids, mask)
        for got in (padded, padded_pad):
            err = (got[0, :t_short] - alone[0]).abs().max().item()
            if err > 1e-4:
                raise SystemExit(f"sanity check: padding changed real-token outputs by {err}")
        # An all-padding row must not produce NaN.
        out = model(ids, torch.zeros(2, t_long, dtype=torch.long))
        if not torch.isfinite(out).all():
            raise SystemExit("sanity check: all-padding row gave non-finite output")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Build a small BERT-style TorchScript encoder with fixed random weights "
                    "(semrec.encoder.v1 folder) for tests and the demo.")
    p.add_argument("--out", required=True, help="output folder (created if absent)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--vocab", help="existing WordPiece vocab.txt to copy")
    src.add_argument("--build-vocab-from", metavar="FILE.jsonl",
                     help="build a demo WordPiece vocab from the \"text\" fields of a catalog")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="maximum size of a built vocab (default 8000)")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--name", default=None,
                   help="model name in the manifest (default semrec-test-encoder-<dim>d-<layers>l)")
    p.add_argument("--background-scale", type=float, default=0.1,
                   help="output scale of stopword/punctuation tokens relative to content tokens")
    p.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = p.parse_args(argv)

    if args.dim <= 0 or args.layers < 0 or args.heads <= 0 or args.dim % args.heads:
        p.error("--dim must be a positive multiple of --heads, --layers >= 0")
    if not 2 <= args.max_length <= 8192:
        p.error("--max-length must be 2..8192")
    start = time.monotonic()
    name = args.name or f"semrec-test-encoder-{args.dim}d-{args.layers}l"
    vocab_src = args.vocab or args.build_vocab_from
    if not os.path.isfile(vocab_src):
        p.error(f"no such file: {vocab_src}")

    # What determines the output; an equal record in an existing manifest means up to date.
    generator = {
        "tool": "tools/make_test_encoder.py",
        "version": GENERATOR_VERSION,
        "script_sha256": sha256_file(os.path.abspath(__file__)),
        "vocab": os.path.abspath(args.vocab) if args.vocab else None,
        "build_vocab_from": os.path.abspath(args.build_vocab_from) if args.build_vocab_from else None,
        "vocab_source_sha256": sha256_file(vocab_src),
        "vocab_size": args.vocab_size if args.build_vocab_from else None,
        "dim": args.dim,
        "layers": args.layers,
        "heads": args.heads,
        "max_length": args.max_length,
        "seed": args.seed,
        "background_scale": args.background_scale,
        "name": name,
        "torch": torch.__version__,
    }

    out = os.path.abspath(args.out)
    manifest_path = os.path.join(out, "manifest.json")
    model_path = os.path.join(out, "model.pt")
    if not args.force and os.path.isfile(manifest_path) and os.path.isfile(model_path):
        try:
            with open(manifest_path, encoding="utf-8") as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = {}
        if isinstance(old, dict) and old.get("generator") == generator:
            os.utime(manifest_path)  # newer than its inputs, for make/ninja
            print(f"{out}: up to date")
            return 0

    os.makedirs(out, exist_ok=True)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # the folder is incomplete until the new manifest is written

    if args.vocab:
        vocab = read_vocab(args.vocab)
        shutil.copyfile(args.vocab, os.path.join(out, "vocab.txt.tmp"))
        os.replace(os.path.join(out, "vocab.txt.tmp"), os.path.join(out, "vocab.txt"))
    else:
        vocab = build_vocab(args.build_vocab_from, args.vocab_size)
        write_atomic(os.path.join(out, "vocab.txt"), ("\n".join(vocab) + "\n").encode("utf-8"))

    torch.manual_seed(args.seed)
    model = TestEncoder(len(vocab), args.dim, args.layers, args.heads, args.max_length)
    init_weights(model, vocab, args.dim, args.background_scale)
    model.eval()
    params = sum(t.numel() for t in model.parameters())
    scripted = torch.jit.script(model)
    scripted.save(model_path + ".tmp")
    os.replace(model_path + ".tmp", model_path)

    sanity_check(model_path, len(vocab), args.dim, args.max_length, vocab.index("[PAD]"))

    manifest = manifest_for(name, args.dim, args.max_length, generator)
    write_atomic(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    print(f"{out}: dim={args.dim} vocab={len(vocab)} params={params} "
          f"({time.monotonic() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
