#!/usr/bin/env python3
"""Export a Hugging Face sentence encoder to a semrec model folder (semrec.encoder.v1).

Run it where `transformers` and `torch` are installed (pip install transformers torch; add
sentencepiece for XLM-R and T5 tokenizers). It downloads the model like any transformers
program (or reads a local folder), so run it on a machine with access to the model hub:

    python3 tools/export_hf_encoder.py --model sentence-transformers/all-MiniLM-L6-v2 \
        --out models/all-MiniLM-L6-v2
    python3 tools/export_hf_encoder.py --model intfloat/multilingual-e5-small \
        --out models/multilingual-e5-small
    # explicit settings instead of the inferred ones
    python3 tools/export_hf_encoder.py --model BAAI/bge-small-en-v1.5 --out models/bge-small \
        --pooling cls --max-length 256
    # half precision, for serving with --device=cuda (traced on the GPU when there is one)
    python3 tools/export_hf_encoder.py --model intfloat/multilingual-e5-small \
        --out models/me5-small-fp16 --dtype float16

It writes:

    DIR/model.pt        TorchScript (torch.jit.trace of a wrapper):
                        forward(input_ids int64 [B, T], attention_mask int64 [B, T]) -> [B, T, dim]
    DIR/<tokenizer>     tokenizer.save_pretrained(DIR): tokenizer_config.json,
                        special_tokens_map.json, tokenizer.json and the slow tokenizer's file
                        (vocab.txt for BERT-family WordPiece, sentencepiece.bpe.model for XLM-R,
                        spiece.model for T5)
    DIR/reference.json  the reference embeddings printed at the end (for comparing with semrec)
    DIR/manifest.json   written last; "tokenizer": {"hf_folder": "."}

What it infers (each can be overridden by a flag; the summary says where each value came from):
  * pooling: from the sentence-transformers config (modules.json, 1_Pooling/config.json:
    pooling_mode_cls_token / pooling_mode_mean_tokens) when the model has one, else mean.
    Other sentence-transformers pooling modes (max, weighted mean, last token) and extra modules
    (Dense, ...) cannot be expressed in the manifest and stop the export.
  * prefixes: the sentence-transformers "prompts" (config_sentence_transformers.json) when present,
    else known model families: intfloat e5 / multilingual-e5 -> "query: " / "passage: ",
    BAAI/bge-*-en(-v1.5) -> "Represent this sentence for searching relevant passages: " / "",
    BAAI/bge-*-zh(-v1.5) -> the Chinese instruction / "", otherwise none.
  * max_length: min(tokenizer.model_max_length, the model's position limit
    (max_position_embeddings, minus 2 for the RoBERTa/XLM-R family, whose positions start after
    the padding id), sentence-transformers max_seq_length, 512).
  * normalize: true (cosine similarity), whether or not the model has a Normalize module.

Checks: the trace runs on a [2, 16] batch and is re-traced on [3, 7] (check_trace), and the saved
TorchScript file is compared with the eager model on more shapes and on real sentences (max abs
difference below 1e-4 for float32). At the end it prints reference embeddings and cosine
similarities of three fixed sentences computed with the eager model, pooled and normalized as the
manifest says and with the query prefix (what `semrec embed` does), to compare with
`build/client/semrec embed "..."`.

The functions above main() import neither transformers nor torch at module import time;
tools/test_export_hf_encoder.py tests them with a fake model.
"""

import argparse
import datetime
import inspect
import json
import os
import re
import sys
import warnings

FORMAT = "semrec.encoder.v1"
MAX_LENGTH_CAP = 512
# Models whose position ids start at padding_idx + 1 (RoBERTa-style): usable positions are
# max_position_embeddings - 2.
PADDING_OFFSET_MODEL_TYPES = frozenset({
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet", "longformer",
    "data2vec-text", "xmod", "ibert", "roberta-prelayernorm",
})
TOKENIZER_FILES = {
    # family: (file the C++ tokenizer reads, description)
    "wordpiece": ("vocab.txt", "WordPiece (BERT family)"),
    "sentencepiece-xlmr": ("sentencepiece.bpe.model", "SentencePiece, XLM-R flavor"),
    "sentencepiece-t5": ("spiece.model", "SentencePiece, T5 flavor"),
}
ST_FILES = ["modules.json", "config_sentence_transformers.json", "sentence_bert_config.json",
            "*Pooling/config.json"]
ST_SUPPORTED_MODULES = frozenset({
    "sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
})
BGE_EN_QUERY = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："
# Reference sentences: two close in meaning, one unrelated.
REFERENCE_SENTENCES = [
    "A space opera about a rebel pilot fighting an empire.",
    "A science fiction novel set among distant stars.",
    "A slow cooker recipe for beef stew with carrots.",
]
# Sentences for the TorchScript-vs-eager check (several lengths, accents, CJK, emoji).
CHECK_SENTENCES = [
    "hello",
    "The quick brown fox jumps over the lazy dog.",
    "Crème brûlée, naïve café: accents and punctuation!",
    "一部关于星际旅行的科幻小说",
    "Wireless noise-cancelling headphones with 30 hours of battery life 🎧",
]


class ExportError(Exception):
    """A problem the user can act on; main() prints it without a traceback."""


# ---------------------------------------------------------------------------------------------
# Inference of manifest settings (pure functions: no torch, no transformers).


def model_basename(model_id):
    """'intfloat/multilingual-e5-small' -> 'multilingual-e5-small' (also for local paths)."""
    return os.path.basename(os.path.normpath(model_id)).lower()


def infer_prefixes(model_id, st_prompts=None):
    """Returns (query_prefix, document_prefix, where_from) for a model id or local folder.

    st_prompts: the "prompts" of config_sentence_transformers.json, when the model has them.
    """
    if st_prompts:
        query = st_prompts.get("query")
        document = next((st_prompts[k] for k in ("document", "passage", "doc", "corpus")
                         if k in st_prompts), None)
        if query is not None or document is not None:
            return query or "", document or "", "config_sentence_transformers.json prompts"
    name = model_basename(model_id)
    if "instruct" in name:
        # e5-mistral / multilingual-e5-large-instruct want "Instruct: <task>\nQuery: ": the
        # task is the user's to choose.
        return "", "", "none known (instruction model: pass --query-prefix)"
    if re.match(r"^(multilingual-)?e5-(small|base|large)(-v2|-unsupervised)?$", name):
        return "query: ", "passage: ", "e5 family"
    if re.match(r"^bge-(small|base|large)-en(-v1\.5)?$", name):
        return BGE_EN_QUERY, "", "bge English family"
    if re.match(r"^bge-(small|base|large)-zh(-v1\.5)?$", name):
        return BGE_ZH_QUERY, "", "bge Chinese family"
    return "", "", "none known"


class SentenceTransformersConfig:
    """What a sentence-transformers model folder says (modules.json, 1_Pooling/config.json, ...)."""

    def __init__(self):
        self.pooling = None  # "mean", "cls", or None when unsupported / absent
        self.pooling_modes = []  # every mode set in the pooling config, e.g. ["mean_tokens"]
        self.include_prompt = True
        self.normalize_module = False
        self.unsupported_modules = []  # e.g. ["2_Dense (sentence_transformers.models.Dense)"]
        self.max_seq_length = None
        self.prompts = None


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_sentence_transformers_config(folder):
    """Reads the sentence-transformers files in `folder`; None when it has none of them."""
    if not folder or not os.path.isdir(folder):
        return None
    modules_path = os.path.join(folder, "modules.json")
    pooling_dir = None
    st = SentenceTransformersConfig()
    found = False
    if os.path.isfile(modules_path):
        found = True
        for module in _read_json(modules_path):
            kind = module.get("type", "")
            path = module.get("path", "")
            if kind == "sentence_transformers.models.Pooling":
                pooling_dir = path
            elif kind == "sentence_transformers.models.Normalize":
                st.normalize_module = True
            if kind not in ST_SUPPORTED_MODULES:
                st.unsupported_modules.append("%s (%s)" % (path or module.get("name", "?"), kind))
    elif os.path.isdir(os.path.join(folder, "1_Pooling")):
        pooling_dir = "1_Pooling"
    if pooling_dir is not None:
        pooling_config = os.path.join(folder, pooling_dir, "config.json")
        if os.path.isfile(pooling_config):
            found = True
            config = _read_json(pooling_config)
            if isinstance(config.get("pooling_mode"), str):  # newer single-string form
                st.pooling_modes = [config["pooling_mode"]]
            else:
                st.pooling_modes = sorted(k[len("pooling_mode_"):] for k, v in config.items()
                                          if k.startswith("pooling_mode_") and v is True)
            modes = {"mean_tokens": "mean", "mean": "mean", "cls_token": "cls", "cls": "cls"}
            if len(st.pooling_modes) == 1 and st.pooling_modes[0] in modes:
                st.pooling = modes[st.pooling_modes[0]]
            st.include_prompt = config.get("include_prompt", True)
    bert_config = os.path.join(folder, "sentence_bert_config.json")
    if os.path.isfile(bert_config):
        found = True
        st.max_seq_length = _read_json(bert_config).get("max_seq_length")
    st_config = os.path.join(folder, "config_sentence_transformers.json")
    if os.path.isfile(st_config):
        found = True
        prompts = _read_json(st_config).get("prompts")
        st.prompts = prompts if isinstance(prompts, dict) and prompts else None
    return st if found else None


def infer_pooling(requested, st):
    """Returns (pooling, where_from). requested: "auto", "mean" or "cls"."""
    if requested != "auto":
        return requested, "--pooling"
    if st is None:
        return "mean", "default (no sentence-transformers config)"
    if st.unsupported_modules:
        raise ExportError(
            "the sentence-transformers pipeline has modules a semrec manifest cannot express: %s "
            "(semrec runs the transformer, then mean or cls pooling and normalization). "
            "Its embeddings would differ from the model card's; choose another model"
            % ", ".join(st.unsupported_modules))
    if st.pooling is None:
        if not st.pooling_modes:
            return "mean", "default (sentence-transformers config without a pooling module)"
        raise ExportError(
            "the model's sentence-transformers pooling is %s; semrec supports mean and cls. "
            "Pass --pooling mean|cls to export anyway (embeddings will differ from the model's)"
            % "+".join(st.pooling_modes))
    return st.pooling, "sentence-transformers pooling config"


def infer_max_length(tokenizer_max_length, max_position_embeddings, model_type,
                     st_max_seq_length=None, cap=MAX_LENGTH_CAP):
    """Returns (max_length, explanation): the smallest of the known limits and `cap`."""
    limits = [("cap", cap)]
    # Tokenizers without a recorded limit report a huge sentinel (int(1e30)).
    if tokenizer_max_length and 0 < tokenizer_max_length < 1_000_000:
        limits.append(("tokenizer.model_max_length", int(tokenizer_max_length)))
    positions = position_limit(max_position_embeddings, model_type)
    if positions is not None:
        limits.append(("position embeddings", positions))
    if st_max_seq_length:
        limits.append(("sentence-transformers max_seq_length", int(st_max_seq_length)))
    name, value = min(limits, key=lambda item: item[1])
    return value, "%s (%s)" % (name, ", ".join("%s %d" % item for item in limits))


def position_limit(max_position_embeddings, model_type):
    """How many tokens the position embeddings allow (None when unknown)."""
    if not max_position_embeddings:
        return None
    offset = 2 if model_type in PADDING_OFFSET_MODEL_TYPES else 0
    return int(max_position_embeddings) - offset


def check_is_encoder(model_type, architectures, is_encoder_decoder, is_decoder):
    """Raises ExportError for models that are not text encoders usable by semrec.

    Returns "encoder" or "encoder-decoder" (whose encoder half is exported).
    """
    if is_encoder_decoder:
        return "encoder-decoder"
    causal = [a for a in (architectures or []) if a.endswith("ForCausalLM")
              or (a.endswith("LMHeadModel") and not a.startswith("Bert"))]
    if is_decoder or causal:
        raise ExportError(
            "%s is a decoder-only (causal) language model (%s): semrec pools an encoder's token "
            "embeddings with mean or cls pooling; export a bidirectional encoder such as "
            "sentence-transformers/all-MiniLM-L6-v2 or intfloat/multilingual-e5-small"
            % (model_type, ", ".join(causal) or "is_decoder"))
    return "encoder"


def tokenizer_family(folder):
    """Which semrec tokenizer the saved HF tokenizer files in `folder` need.

    Returns (family, file) or raises ExportError when semrec has no matching tokenizer.
    """
    names = set(os.listdir(folder))
    for family, (file, _) in TOKENIZER_FILES.items():
        if file in names:
            return family, file
    config = {}
    if "tokenizer_config.json" in names:
        config = _read_json(os.path.join(folder, "tokenizer_config.json"))
    cls = config.get("tokenizer_class", "unknown")
    if {"vocab.json", "merges.txt"} <= names:
        what = "a byte-level BPE tokenizer (%s: vocab.json + merges.txt)" % cls
    else:
        what = "tokenizer %s (files: %s)" % (cls, ", ".join(sorted(names)))
    raise ExportError(
        "the model uses %s; semrec's tokenizers read vocab.txt (WordPiece), "
        "sentencepiece.bpe.model (XLM-R) or spiece.model (T5). If the tokenizer is one of those "
        "but was loaded from tokenizer.json only, install sentencepiece/tokenizers and retry"
        % what)


def build_manifest(name, dimension, max_length, pooling, normalize, query_prefix,
                   document_prefix, source, model_file="model.pt"):
    """The manifest.json contents (core/encoder/manifest.cc reads it)."""
    if pooling not in ("mean", "cls"):
        raise ValueError("pooling must be mean or cls, got %r" % (pooling,))
    if not 1 <= int(dimension) <= 65536:
        raise ValueError("dimension must be 1..65536, got %r" % (dimension,))
    if not 2 <= int(max_length) <= 8192:
        raise ValueError("max_length must be 2..8192, got %r" % (max_length,))
    return {
        "format": FORMAT,
        "name": name,
        "model_file": model_file,
        "dimension": int(dimension),
        "max_length": int(max_length),
        "output": "token_embeddings",
        "pooling": pooling,
        "normalize": bool(normalize),
        "query_prefix": query_prefix,
        "document_prefix": document_prefix,
        "tokenizer": {"hf_folder": "."},
        "source": source,
    }


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------------------------
# Wrapping, tracing and verification (torch imported lazily; no transformers).


def import_torch():
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise ExportError("torch is not installed (%s): pip install torch transformers" % e)
    return torch


def last_hidden_state(output):
    """The [B, T, dim] tensor of a HF model output (ModelOutput, tuple or tensor)."""
    hidden = getattr(output, "last_hidden_state", None)
    if hidden is not None:
        return hidden
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


def forward_accepts(module, name):
    try:
        return name in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return False


def make_wrapper(model, token_type_ids=None):
    """A module with forward(input_ids, attention_mask) -> last_hidden_state.

    token_type_ids: pass zeros of the input's shape as token_type_ids (BERT-family models whose
    forward takes them); None decides from the model's forward signature.
    """
    torch = import_torch()
    if token_type_ids is None:
        token_type_ids = forward_accepts(model, "token_type_ids")

    class EncoderWrapper(torch.nn.Module):
        def __init__(self, inner, with_token_type_ids):
            super().__init__()
            self.model = inner
            self.with_token_type_ids = with_token_type_ids

        def forward(self, input_ids, attention_mask):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if self.with_token_type_ids:
                # zeros_like keeps the device and shape dynamic in the trace.
                kwargs["token_type_ids"] = torch.zeros_like(input_ids)
            return last_hidden_state(self.model(**kwargs))

    return EncoderWrapper(model, token_type_ids).eval()


def dummy_batch(batch, length, vocab_size, pad_id, device="cpu", seed=0):
    """Random ids with a padded tail on every other row (the mask has zeros), int64."""
    torch = import_torch()
    generator = torch.Generator().manual_seed(seed)
    low = min(5, max(vocab_size - 1, 0))
    ids = torch.randint(low, vocab_size, (batch, length), generator=generator, dtype=torch.int64)
    mask = torch.ones(batch, length, dtype=torch.int64)
    for row in range(1, batch, 2):
        keep = max(1, length - 1 - row * length // (2 * batch))
        mask[row, keep:] = 0
        ids[row, keep:] = pad_id
    return ids.to(device), mask.to(device)


def trace_encoder(wrapper, vocab_size, pad_id, device="cpu"):
    """torch.jit.trace on [2, 16], re-traced on [3, 7]. Returns (traced, notes)."""
    torch = import_torch()
    example = dummy_batch(2, 16, vocab_size, pad_id, device, seed=1)
    check = dummy_batch(3, 7, vocab_size, pad_id, device, seed=2)
    notes = []
    with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", torch.jit.TracerWarning)
        try:
            traced = torch.jit.trace(wrapper, example, strict=False, check_trace=True,
                                     check_inputs=[check])
        except torch.jit.TracingCheckError as e:
            # The numeric checks on several shapes (verify_traced) decide; keep a note.
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            notes.append("check_trace on [3, 7] reported: %s" % first[:300])
            traced = torch.jit.trace(wrapper, example, strict=False, check_trace=False)
    # Usually harmless (verify_traced runs other shapes); kept as a note, first sentence only.
    tracer_warnings = sorted({str(w.message).split(". ")[0][:160] for w in caught
                              if issubclass(w.category, torch.jit.TracerWarning)})
    if tracer_warnings:
        notes.append("%d kind(s) of tracer warning, e.g. \"%s\""
                     % (len(tracer_warnings), tracer_warnings[0]))
    return traced, notes


def verify_traced(traced, wrapper, batches, tolerance):
    """Runs both on each (input_ids, attention_mask); returns the largest abs difference.

    Raises ExportError when a batch fails to run or differs by `tolerance` or more.
    """
    torch = import_torch()
    worst = 0.0
    with torch.no_grad():
        for input_ids, attention_mask in batches:
            shape = list(input_ids.shape)
            expected = wrapper(input_ids, attention_mask)
            try:
                got = traced(input_ids, attention_mask)
            except Exception as e:  # pylint: disable=broad-except
                raise ExportError(
                    "the traced model fails on input shape %s (its trace is specialized to the "
                    "example's shape): %s" % (shape, str(e).strip().splitlines()[-1][:300]))
            got = last_hidden_state(got)
            if tuple(got.shape) != tuple(expected.shape):
                raise ExportError("traced output shape %s != eager %s for input %s"
                                  % (list(got.shape), list(expected.shape), shape))
            diff = (got.float() - expected.float()).abs().max().item()
            if not diff < tolerance:  # also catches NaN
                raise ExportError("traced output differs from eager by %.3g (limit %g) for input "
                                  "shape %s" % (diff, tolerance, shape))
            worst = max(worst, diff)
    return worst


def pool(hidden, attention_mask, pooling, normalize):
    """Pools [B, T, dim] as core/encoder/torch_encoder.cc does (float32)."""
    hidden = hidden.float()
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
    if normalize:
        pooled = pooled / pooled.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
    return pooled


def cosine_matrix(embeddings):
    unit = embeddings / embeddings.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


# ---------------------------------------------------------------------------------------------
# The export (needs transformers).


def import_transformers():
    try:
        import transformers  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise ExportError("transformers is not installed (%s): pip install transformers torch "
                          "(and sentencepiece for XLM-R / T5 tokenizers). Run this tool on a "
                          "machine with them; the semrec server itself needs neither" % e)
    return transformers


def fetch_sentence_transformers_folder(model, revision, pooling_requested):
    """A local folder holding the model's sentence-transformers files (or none of them)."""
    if os.path.isdir(model):
        return model
    try:
        from huggingface_hub import snapshot_download  # pylint: disable=import-outside-toplevel
        return snapshot_download(repo_id=model, revision=revision, allow_patterns=ST_FILES)
    except Exception as e:  # pylint: disable=broad-except
        if pooling_requested != "auto":
            return None
        raise ExportError("cannot read %s's sentence-transformers files, which say its pooling "
                          "(%s: %s); pass --pooling mean|cls as its model card says"
                          % (model, type(e).__name__, str(e).strip()[:300]))


def load_model(transformers, model_id, revision, trust_remote_code):
    kwargs = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        # Plain attention: SDPA would put aten::scaled_dot_product_attention in the trace, which
        # older libtorch builds (the server's) do not have.
        return transformers.AutoModel.from_pretrained(model_id, attn_implementation="eager",
                                                      **kwargs)
    except (TypeError, ValueError) as e:
        if "attn_implementation" not in str(e):
            raise
        return transformers.AutoModel.from_pretrained(model_id, **kwargs)


def tokenize(tokenizer, texts, max_length, device):
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
    return encoded["input_ids"].to(device), encoded["attention_mask"].to(device)


# Files an export may leave in --out; --force removes them first, so that an old tokenizer
# file cannot be mistaken for the new model's.
OUTPUT_FILES = ["manifest.json", "model.pt", "reference.json", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "vocab.json",
                "merges.txt"]


def prepare_out_dir(out, force):
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise ExportError("%s exists and is not empty: pass --force to overwrite it, or choose "
                          "a new folder" % out)
    os.makedirs(out, exist_ok=True)
    for name in OUTPUT_FILES:  # manifest.json first: never describes a half-written folder
        path = os.path.join(out, name)
        if os.path.isfile(path):
            os.remove(path)


def export(args):
    transformers = import_transformers()
    torch = import_torch()
    prepare_out_dir(args.out, args.force)
    notes = []

    # Tokenizer first: an unsupported one stops the export before the slow part.
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        args.model, revision=args.revision, trust_remote_code=args.trust_remote_code)
    tokenizer.save_pretrained(args.out)
    family, tokenizer_file = tokenizer_family(args.out)

    st_folder = fetch_sentence_transformers_folder(args.model, args.revision, args.pooling)
    st = read_sentence_transformers_config(st_folder)
    pooling, pooling_from = infer_pooling(args.pooling, st)
    if st is not None and st.pooling and st.pooling != pooling:
        notes.append("--pooling %s overrides the model's %s pooling" % (pooling, st.pooling))
    if st is not None and not st.include_prompt:
        notes.append("the model's pooling excludes prompt tokens (include_prompt false); semrec "
                     "pools over the prefix too")

    query_prefix, document_prefix, prefix_from = infer_prefixes(
        args.model, st.prompts if st is not None else None)
    if args.query_prefix is not None or args.document_prefix is not None:
        prefix_from = "flags" if prefix_from == "none known" else prefix_from + ", flags"
    if args.query_prefix is not None:
        query_prefix = args.query_prefix
    if args.document_prefix is not None:
        document_prefix = args.document_prefix

    model = load_model(transformers, args.model, args.revision, args.trust_remote_code)
    config = model.config
    kind = check_is_encoder(getattr(config, "model_type", "?"),
                            getattr(config, "architectures", None),
                            getattr(config, "is_encoder_decoder", False),
                            getattr(config, "is_decoder", False))
    if kind == "encoder-decoder":
        if not hasattr(model, "get_encoder"):
            raise ExportError("%s is an encoder-decoder model without get_encoder()"
                              % config.model_type)
        model = model.get_encoder()
        notes.append("encoder-decoder model: exported its encoder")
    model.eval()

    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    vocab_size = getattr(embeddings, "num_embeddings", None) or config.vocab_size
    if len(tokenizer) > vocab_size:
        raise ExportError("the tokenizer has %d tokens but the model only %d embeddings"
                          % (len(tokenizer), vocab_size))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    positions = position_limit(getattr(config, "max_position_embeddings", None),
                               getattr(config, "model_type", ""))
    if args.max_length is not None:
        max_length, max_length_from = args.max_length, "--max-length"
        if positions is not None and max_length > positions:
            raise ExportError("--max-length %d exceeds the model's %d positions"
                              % (max_length, positions))
        if not 2 <= max_length <= 8192:
            raise ExportError("--max-length must be 2..8192")
    else:
        max_length, max_length_from = infer_max_length(
            getattr(tokenizer, "model_max_length", None),
            getattr(config, "max_position_embeddings", None),
            getattr(config, "model_type", ""), st.max_seq_length if st is not None else None)

    dtype = {"float32": torch.float32, "float16": torch.float16,
             "bfloat16": torch.bfloat16}[args.dtype]
    device = "cpu"
    if dtype != torch.float32:
        if torch.cuda.is_available():
            device = "cuda"
        else:
            notes.append("%s traced on the CPU (no CUDA here); serve it with --device=cuda"
                         % args.dtype)
    model = model.to(device=device, dtype=dtype)
    wrapper = make_wrapper(model)

    # The eager model must run as an encoder before anything is traced.
    try:
        with torch.no_grad():
            probe = wrapper(*dummy_batch(2, 16, vocab_size, pad_id, device, seed=1))
    except Exception as e:  # pylint: disable=broad-except
        if dtype != torch.float32 and device == "cpu":
            raise ExportError("%s does not run on this CPU's torch (%s): export it on a machine "
                              "with CUDA, or use float32" % (args.dtype, e))
        raise ExportError("%s does not run as a text encoder with forward(input_ids, "
                          "attention_mask): %s" % (type(model).__name__, e))
    if not hasattr(probe, "dim") or probe.dim() != 3:
        raise ExportError("%s returns %s, not [batch, length, dim] token embeddings"
                          % (type(model).__name__, getattr(probe, "shape", type(probe))))
    dimension = int(probe.shape[-1])

    print("tracing %s (%s, %s on %s) ..." % (args.model, type(model).__name__, args.dtype, device),
          flush=True)
    traced, trace_notes = trace_encoder(wrapper, vocab_size, pad_id, device)
    notes += trace_notes
    graph = str(traced.inlined_graph)
    if "scaled_dot_product_attention" in graph:
        notes.append("the trace uses aten::scaled_dot_product_attention (torch >= 2.0); a server "
                     "built on libtorch 1.13 cannot load it")
    model_path = os.path.join(args.out, "model.pt")
    torch.jit.save(traced, model_path)
    loaded = torch.jit.load(model_path, map_location=device)
    loaded.eval()

    batches = [dummy_batch(3, 7, vocab_size, pad_id, device, seed=3),
               dummy_batch(1, 5, vocab_size, pad_id, device, seed=4),
               dummy_batch(2, max_length, vocab_size, pad_id, device, seed=5),
               tokenize(tokenizer, CHECK_SENTENCES, max_length, device)]
    batches += [tokenize(tokenizer, [s], max_length, device) for s in CHECK_SENTENCES]
    tolerance = 1e-4 if dtype == torch.float32 else 1e-2
    max_diff = verify_traced(loaded, wrapper, batches, tolerance)

    # Reference: what `semrec embed` should print (query kind, so the query prefix).
    with torch.no_grad():
        ref_ids, ref_mask = tokenize(tokenizer, [query_prefix + s for s in REFERENCE_SENTENCES],
                                     max_length, device)
        ref = pool(wrapper(ref_ids, ref_mask), ref_mask, pooling, args.normalize).cpu()
        cosines = cosine_matrix(ref)
    reference = {
        "kind": "query",
        "sentences": REFERENCE_SENTENCES,
        "texts": [query_prefix + s for s in REFERENCE_SENTENCES],
        "token_ids": [[int(t) for t, m in zip(row, mask) if m]
                      for row, mask in zip(ref_ids.tolist(), ref_mask.tolist())],
        "embeddings_head": [[round(float(v), 6) for v in row[:8]] for row in ref.tolist()],
        "cosine": [[round(float(v), 6) for v in row] for row in cosines.tolist()],
    }
    with open(os.path.join(args.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=1)

    source = {
        "model": args.model,
        "revision": getattr(config, "_commit_hash", None) or args.revision,
        "model_class": type(model).__name__,
        "tokenizer_class": type(tokenizer).__name__,
        "tokenizer_family": family,
        "dtype": args.dtype,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "date": utc_now(),
        "exporter": "tools/export_hf_encoder.py",
        "pooling_from": pooling_from,
        "prefixes_from": prefix_from,
        "max_length_from": max_length_from,
        "st_normalize_module": bool(st is not None and st.normalize_module),
        "trace_max_abs_diff": max_diff,
        "notes": notes,
    }
    manifest = build_manifest(args.model, dimension, max_length, pooling, args.normalize,
                              query_prefix, document_prefix, source)
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")

    print_summary(args, manifest, tokenizer, tokenizer_file, st, reference, max_diff, notes)


def print_summary(args, manifest, tokenizer, tokenizer_file, st, reference, max_diff, notes):
    source = manifest["source"]
    out = args.out
    print()
    print("wrote %s" % out)
    for name in sorted(os.listdir(out)):
        print("  %-26s %10d bytes" % (name, os.path.getsize(os.path.join(out, name))))
    print("model:       %s (%s, %s)" % (manifest["name"], source["model_class"], source["dtype"]))
    print("dimension:   %d" % manifest["dimension"])
    print("max_length:  %d  from %s" % (manifest["max_length"], source["max_length_from"]))
    print("pooling:     %s  from %s" % (manifest["pooling"], source["pooling_from"]))
    if st is not None and st.normalize_module:
        normalize_note = "the model has a Normalize module"
    elif st is not None:
        normalize_note = "the model has no Normalize module; semrec compares by cosine"
    else:
        normalize_note = "semrec compares by cosine"
    print("normalize:   %s  (%s)" % (str(manifest["normalize"]).lower(), normalize_note))
    print("prefixes:    query %s, document %s  from %s"
          % (json.dumps(manifest["query_prefix"], ensure_ascii=False),
             json.dumps(manifest["document_prefix"], ensure_ascii=False), source["prefixes_from"]))
    print("tokenizer:   %s -> %s (%s; manifest: {\"hf_folder\": \".\"})"
          % (type(tokenizer).__name__, tokenizer_file, source["tokenizer_family"]))
    print("trace check: TorchScript vs eager max abs diff %.2g" % max_diff)
    for note in notes:
        print("note:        %s" % note)
    print()
    print("reference (eager HF model, query prefix, %s pooling%s):"
          % (manifest["pooling"], ", normalized" if manifest["normalize"] else ""))
    for i, text in enumerate(reference["sentences"]):
        head = ", ".join("%+.4f" % v for v in reference["embeddings_head"][i])
        print("  [%d] %s\n      [%s, ...]" % (i, text, head))
    print("  token ids of [0]: %s" % reference["token_ids"][0])
    cos = reference["cosine"]
    print("  cosine [0]-[1] %.4f   [0]-[2] %.4f   [1]-[2] %.4f"
          % (cos[0][1], cos[0][2], cos[1][2]))
    print()
    print("serve:   semrec-server --model_dir=%s --device=%s"
          % (out, "auto" if source["dtype"] == "float32" else "cuda"))
    print("compare: build/client/semrec embed %s --tokens --json"
          % " ".join(json.dumps(s, ensure_ascii=False) for s in REFERENCE_SENTENCES))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Export a Hugging Face text encoder to a semrec model folder "
                    "(TorchScript model.pt, tokenizer files, manifest.json).",
        epilog="Example: %(prog)s --model sentence-transformers/all-MiniLM-L6-v2 --out models/minilm")
    parser.add_argument("--model", required=True,
                        help="Hugging Face model id or local folder, e.g. "
                             "sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--out", required=True, help="output folder (new or empty, or --force)")
    parser.add_argument("--revision", default=None, help="model revision (branch, tag, commit)")
    parser.add_argument("--max-length", type=int, default=None,
                        help="tokens per text, specials included (default: inferred, at most %d)"
                             % MAX_LENGTH_CAP)
    parser.add_argument("--pooling", choices=["auto", "mean", "cls"], default="auto",
                        help="auto: from the sentence-transformers config, else mean")
    parser.add_argument("--query-prefix", default=None,
                        help="text put before queries (default: inferred from the model id)")
    parser.add_argument("--document-prefix", default=None,
                        help="text put before item texts (default: inferred from the model id)")
    parser.add_argument("--normalize", dest="normalize", action="store_true", default=True,
                        help="L2-normalize embeddings (default)")
    parser.add_argument("--no-normalize", dest="normalize", action="store_false")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                        help="precision the model is traced in: float16/bfloat16 are for serving "
                             "on a GPU (with the server's matching --precision); a float32 trace "
                             "cannot be cast to half precision after tracing")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow models whose code lives in their repository")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        export(args)
    except ExportError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
