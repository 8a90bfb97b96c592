#!/usr/bin/python3
"""Tests of tools/export_hf_encoder.py that need neither transformers nor a download.

    /usr/bin/python3 tools/test_export_hf_encoder.py        # or: python3 -m unittest ...

The inference functions (prefixes, pooling, max_length, manifest) are tested on their own; the
wrapper, trace and verification path and the whole export() run on a small BERT-like torch
module and a WordPiece tokenizer written here, standing in for transformers' AutoModel and
AutoTokenizer (a fake `transformers` module). Tests that need torch skip when it is missing.
"""

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import types
import unicodedata
import unittest

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import export_hf_encoder as ex  # noqa: E402  pylint: disable=wrong-import-position

try:
    import torch
    from torch import nn
except ImportError:  # the pure tests still run
    torch = None

needs_torch = unittest.skipIf(torch is None, "torch is not installed")


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


ST_TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
ST_POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
ST_NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize"}
ST_DENSE = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}


def pooling_config(mode, dim=384):
    config = {"word_embedding_dimension": dim, "pooling_mode_cls_token": False,
              "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
              "pooling_mode_mean_sqrt_len_tokens": False}
    for m in mode.split("+"):
        config["pooling_mode_" + m] = True
    return config


def make_st_folder(root, modules, mode="mean_tokens", max_seq_length=None, prompts=None):
    if modules is not None:
        write_json(os.path.join(root, "modules.json"), modules)
    if mode is not None:
        write_json(os.path.join(root, "1_Pooling", "config.json"), pooling_config(mode))
    if max_seq_length is not None:
        write_json(os.path.join(root, "sentence_bert_config.json"),
                   {"max_seq_length": max_seq_length, "do_lower_case": False})
    if prompts is not None:
        write_json(os.path.join(root, "config_sentence_transformers.json"),
                   {"prompts": prompts, "default_prompt_name": None})
    return root


class ImportTest(unittest.TestCase):
    def test_module_imports_neither_torch_nor_transformers(self):
        code = ("import sys; sys.path.insert(0, %r); import export_hf_encoder; "
                "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))" % TOOLS)
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True).stdout.strip()
        self.assertEqual(out, "[]")

    def test_missing_transformers_says_how_to_install(self):
        saved = sys.modules.get("transformers")
        sys.modules["transformers"] = None  # makes `import transformers` raise ImportError
        try:
            with self.assertRaisesRegex(ex.ExportError, "pip install transformers"):
                ex.import_transformers()
            with tempfile.TemporaryDirectory() as out:
                err = io.StringIO()
                with contextlib.redirect_stderr(err):
                    code = ex.main(["--model", "x/y", "--out", out])
                self.assertEqual(code, 1)
                self.assertIn("pip install transformers", err.getvalue())
        finally:
            if saved is None:
                del sys.modules["transformers"]
            else:
                sys.modules["transformers"] = saved

    def test_help_lists_the_options(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit):
            ex.parse_args(["--help"])
        for flag in ("--model", "--out", "--max-length", "--pooling", "--query-prefix",
                     "--document-prefix", "--no-normalize", "--dtype", "--trust-remote-code"):
            self.assertIn(flag, out.getvalue())

    def test_defaults(self):
        args = ex.parse_args(["--model", "m", "--out", "o"])
        self.assertEqual((args.pooling, args.normalize, args.dtype, args.max_length,
                          args.query_prefix, args.document_prefix, args.trust_remote_code),
                         ("auto", True, "float32", None, None, None, False))
        self.assertFalse(ex.parse_args(["--model", "m", "--out", "o", "--no-normalize"]).normalize)


class PrefixTest(unittest.TestCase):
    def test_known_families(self):
        cases = {
            "sentence-transformers/all-MiniLM-L6-v2": ("", ""),
            "intfloat/multilingual-e5-small": ("query: ", "passage: "),
            "intfloat/multilingual-e5-large": ("query: ", "passage: "),
            "intfloat/e5-base-v2": ("query: ", "passage: "),
            "intfloat/e5-small": ("query: ", "passage: "),
            "/models/multilingual-e5-small/": ("query: ", "passage: "),  # a local copy
            "BAAI/bge-small-en-v1.5": (ex.BGE_EN_QUERY, ""),
            "BAAI/bge-large-en": (ex.BGE_EN_QUERY, ""),
            "BAAI/bge-base-zh-v1.5": (ex.BGE_ZH_QUERY, ""),
            "BAAI/bge-m3": ("", ""),
            "intfloat/multilingual-e5-large-instruct": ("", ""),
            "bert-base-uncased": ("", ""),
        }
        for model, expected in cases.items():
            with self.subTest(model=model):
                self.assertEqual(ex.infer_prefixes(model)[:2], expected)
        self.assertEqual(ex.BGE_EN_QUERY, "Represent this sentence for searching relevant passages: ")

    def test_sentence_transformers_prompts_win(self):
        query, document, source = ex.infer_prefixes(
            "intfloat/multilingual-e5-small", {"query": "q: ", "passage": "p: "})
        self.assertEqual((query, document), ("q: ", "p: "))
        self.assertIn("prompts", source)
        self.assertEqual(ex.infer_prefixes("x/y", {"query": "Q ", "document": "D "})[:2],
                         ("Q ", "D "))
        # Empty or unrelated prompts fall back to the known families.
        self.assertEqual(ex.infer_prefixes("intfloat/e5-large-v2", {})[:2], ("query: ", "passage: "))
        self.assertEqual(ex.infer_prefixes("intfloat/e5-large-v2", {"clustering": "c: "})[:2],
                         ("query: ", "passage: "))


class SentenceTransformersConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_mean_with_normalize(self):
        make_st_folder(self.dir, [ST_TRANSFORMER, ST_POOLING, ST_NORMALIZE], "mean_tokens",
                       max_seq_length=256)
        st = ex.read_sentence_transformers_config(self.dir)
        self.assertEqual((st.pooling, st.normalize_module, st.max_seq_length), ("mean", True, 256))
        self.assertEqual(st.unsupported_modules, [])
        self.assertEqual(ex.infer_pooling("auto", st)[0], "mean")

    def test_cls(self):
        make_st_folder(self.dir, [ST_TRANSFORMER, ST_POOLING], "cls_token")
        st = ex.read_sentence_transformers_config(self.dir)
        self.assertEqual((st.pooling, st.normalize_module), ("cls", False))
        self.assertEqual(ex.infer_pooling("auto", st), ("cls", "sentence-transformers pooling config"))
        self.assertEqual(ex.infer_pooling("mean", st), ("mean", "--pooling"))

    def test_pooling_folder_without_modules_json(self):
        make_st_folder(self.dir, None, "cls_token")
        self.assertEqual(ex.read_sentence_transformers_config(self.dir).pooling, "cls")

    def test_pooling_path_from_modules_json(self):
        pooling = dict(ST_POOLING, path="pool")
        write_json(os.path.join(self.dir, "modules.json"), [ST_TRANSFORMER, pooling])
        write_json(os.path.join(self.dir, "pool", "config.json"), pooling_config("cls_token"))
        self.assertEqual(ex.read_sentence_transformers_config(self.dir).pooling, "cls")

    def test_unsupported_pooling_needs_an_explicit_choice(self):
        for mode in ("max_tokens", "cls_token+mean_tokens", "mean_sqrt_len_tokens"):
            with self.subTest(mode=mode):
                make_st_folder(self.dir, [ST_TRANSFORMER, ST_POOLING], mode)
                st = ex.read_sentence_transformers_config(self.dir)
                self.assertIsNone(st.pooling)
                with self.assertRaisesRegex(ex.ExportError, "--pooling"):
                    ex.infer_pooling("auto", st)
                self.assertEqual(ex.infer_pooling("cls", st)[0], "cls")

    def test_dense_module_stops_the_export(self):
        make_st_folder(self.dir, [ST_TRANSFORMER, ST_POOLING, ST_DENSE], "cls_token")
        st = ex.read_sentence_transformers_config(self.dir)
        self.assertEqual(len(st.unsupported_modules), 1)
        with self.assertRaisesRegex(ex.ExportError, "2_Dense"):
            ex.infer_pooling("auto", st)

    def test_prompts_and_include_prompt(self):
        make_st_folder(self.dir, [ST_TRANSFORMER, ST_POOLING], "mean_tokens",
                       prompts={"query": "query: ", "passage": "passage: "})
        config = pooling_config("mean_tokens")
        config["include_prompt"] = False
        write_json(os.path.join(self.dir, "1_Pooling", "config.json"), config)
        st = ex.read_sentence_transformers_config(self.dir)
        self.assertEqual(st.prompts, {"query": "query: ", "passage": "passage: "})
        self.assertFalse(st.include_prompt)

    def test_not_a_sentence_transformers_model(self):
        write_json(os.path.join(self.dir, "config.json"), {"model_type": "bert"})
        self.assertIsNone(ex.read_sentence_transformers_config(self.dir))
        self.assertIsNone(ex.read_sentence_transformers_config(os.path.join(self.dir, "absent")))
        self.assertIsNone(ex.read_sentence_transformers_config(None))
        self.assertEqual(ex.infer_pooling("auto", None)[0], "mean")
        self.assertEqual(ex.infer_pooling("cls", None)[0], "cls")


class MaxLengthTest(unittest.TestCase):
    def test_models(self):
        # (tokenizer.model_max_length, max_position_embeddings, model_type, st max_seq_length)
        cases = [
            ((512, 512, "bert", 256), 256),  # all-MiniLM-L6-v2
            ((512, 512, "bert", None), 512),
            ((512, 514, "xlm-roberta", 512), 512),  # multilingual-e5-small
            ((int(1e30), 514, "xlm-roberta", None), 512),  # no limit recorded in the tokenizer
            ((int(1e30), 514, "mpnet", 384), 384),  # all-mpnet-base-v2
            ((int(1e30), 8194, "xlm-roberta", None), 512),  # bge-m3: capped
            ((int(1e30), 130, "roberta", None), 128),
            ((512, None, "t5", None), 512),  # relative positions
            ((128, 512, "bert", None), 128),
            ((None, None, "bert", None), 512),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                value, why = ex.infer_max_length(*args)
                self.assertEqual(value, expected)
                self.assertIsInstance(why, str)

    def test_position_limit(self):
        self.assertEqual(ex.position_limit(514, "xlm-roberta"), 512)
        self.assertEqual(ex.position_limit(512, "bert"), 512)
        self.assertIsNone(ex.position_limit(None, "t5"))


class EncoderCheckTest(unittest.TestCase):
    def test_encoders_pass(self):
        self.assertEqual(ex.check_is_encoder("bert", ["BertModel"], False, False), "encoder")
        self.assertEqual(ex.check_is_encoder("bert", ["BertForMaskedLM"], False, False), "encoder")
        self.assertEqual(ex.check_is_encoder("xlm-roberta", None, False, False), "encoder")
        self.assertEqual(ex.check_is_encoder("t5", ["T5ForConditionalGeneration"], True, False),
                         "encoder-decoder")

    def test_decoders_fail(self):
        for model_type, arch in (("gpt2", "GPT2LMHeadModel"), ("llama", "LlamaForCausalLM"),
                                 ("mistral", "MistralForCausalLM")):
            with self.subTest(model_type=model_type):
                with self.assertRaisesRegex(ex.ExportError, "not|decoder-only"):
                    ex.check_is_encoder(model_type, [arch], False, False)
        with self.assertRaises(ex.ExportError):
            ex.check_is_encoder("bert", ["BertModel"], False, True)


class TokenizerFamilyTest(unittest.TestCase):
    def family(self, files):
        with tempfile.TemporaryDirectory() as d:
            for name in files:
                with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                    f.write("{}" if name.endswith(".json") else "x")
            return ex.tokenizer_family(d)

    def test_supported(self):
        self.assertEqual(self.family(["vocab.txt", "tokenizer_config.json"]), ("wordpiece", "vocab.txt"))
        self.assertEqual(self.family(["sentencepiece.bpe.model", "tokenizer.json"]),
                         ("sentencepiece-xlmr", "sentencepiece.bpe.model"))
        self.assertEqual(self.family(["spiece.model"]), ("sentencepiece-t5", "spiece.model"))

    def test_unsupported(self):
        with self.assertRaisesRegex(ex.ExportError, "byte-level BPE"):
            self.family(["vocab.json", "merges.txt", "tokenizer_config.json"])
        with self.assertRaisesRegex(ex.ExportError, "tokenizer.json"):
            self.family(["tokenizer.json", "tokenizer_config.json"])


class ManifestTest(unittest.TestCase):
    def test_fields(self):
        source = {"model": "intfloat/multilingual-e5-small", "torch": "2.3.0"}
        m = ex.build_manifest("intfloat/multilingual-e5-small", 384, 512, "mean", True,
                              "query: ", "passage: ", source)
        self.assertEqual(m, {
            "format": "semrec.encoder.v1", "name": "intfloat/multilingual-e5-small",
            "model_file": "model.pt", "dimension": 384, "max_length": 512,
            "output": "token_embeddings", "pooling": "mean", "normalize": True,
            "query_prefix": "query: ", "document_prefix": "passage: ",
            "tokenizer": {"hf_folder": "."}, "source": source})
        json.dumps(m)

    def test_rejects_what_the_server_rejects(self):
        with self.assertRaises(ValueError):
            ex.build_manifest("m", 384, 256, "max", True, "", "", {})
        with self.assertRaises(ValueError):
            ex.build_manifest("m", 0, 256, "mean", True, "", "", {})
        with self.assertRaises(ValueError):
            ex.build_manifest("m", 384, 1, "mean", True, "", "", {})


# ---------------------------------------------------------------------------------------------
# Stand-ins for transformers: a BERT-shaped model and a WordPiece tokenizer.

if torch is not None:

    class FakeOutput:
        """Like transformers' BaseModelOutput: the tensor is an attribute."""

        def __init__(self, last_hidden_state):
            self.last_hidden_state = last_hidden_state

    class FakeBertModel(nn.Module):
        """One post-LN BERT layer; forward(input_ids, attention_mask, token_type_ids, ...)."""

        def __init__(self, vocab_size=100, dim=32, heads=4, max_positions=64, seed=0,
                     tuple_output=False):
            super().__init__()
            torch.manual_seed(seed)
            self.config = types.SimpleNamespace(
                model_type="bert", architectures=["BertModel"], is_encoder_decoder=False,
                is_decoder=False, max_position_embeddings=max_positions, vocab_size=vocab_size,
                hidden_size=dim, _commit_hash="0123456789abcdef0123456789abcdef01234567")
            self.heads = heads
            self.tuple_output = tuple_output
            self.word = nn.Embedding(vocab_size, dim)
            self.position = nn.Embedding(max_positions, dim)
            self.token_type = nn.Embedding(2, dim)
            self.register_buffer("position_ids", torch.arange(max_positions).unsqueeze(0))
            self.ln0 = nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.out = nn.Linear(dim, dim)
            self.ln1 = nn.LayerNorm(dim)
            self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            self.ln2 = nn.LayerNorm(dim)
            self.token_type_calls = 0

        def get_input_embeddings(self):
            return self.word

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, return_dict=None):
            batch, length = input_ids.size(0), input_ids.size(1)
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            else:
                self.token_type_calls += 1
            x = (self.word(input_ids) + self.position(self.position_ids[:, :length])
                 + self.token_type(token_type_ids))
            x = self.ln0(x)
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            extended = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            head_dim = x.size(2) // self.heads
            q, k, v = (t.view(batch, length, self.heads, head_dim).transpose(1, 2)
                       for t in self.qkv(x).chunk(3, dim=-1))
            scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + extended
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, -1)
            x = self.ln1(x + self.out(context))
            x = self.ln2(x + self.ffn(x))
            if self.tuple_output:
                return (x, x[:, 0])
            return FakeOutput(x)

    class FakeDistilModel(FakeBertModel):
        """No token_type_ids in forward, like DistilBERT."""

        def forward(self, input_ids, attention_mask=None):  # pylint: disable=arguments-differ
            return super().forward(input_ids, attention_mask)

    class FakeEncoderDecoderModel(nn.Module):
        """Like T5Model: is_encoder_decoder, and get_encoder() is what gets exported."""

        def __init__(self, **kwargs):
            super().__init__()
            self.encoder = FakeDistilModel(**kwargs)
            self.config = types.SimpleNamespace(**vars(self.encoder.config))
            self.config.model_type, self.config.is_encoder_decoder = "t5", True
            self.config.architectures = ["T5ForConditionalGeneration"]

        def get_encoder(self):
            return self.encoder

        def forward(self, input_ids, decoder_input_ids):
            raise AssertionError("the decoder must not be traced")

    class FakeCausalModel(FakeDistilModel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.config.model_type, self.config.architectures = "gpt2", ["GPT2LMHeadModel"]

    class ShapeSpecializedModel(FakeBertModel):
        """Bakes the example's length into the trace, as badly written model code does."""

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, return_dict=None):
            length = int(input_ids.shape[1])  # a Python int: a constant in the trace
            hidden = super().forward(input_ids, attention_mask).last_hidden_state
            return FakeOutput(hidden + self.position.weight[:length] * 0.5)


class FakeWordPieceTokenizer:
    """Lowercasing BERT-style WordPiece (basic tokenization, greedy longest match)."""

    model_max_length = 512

    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        self.pad_token_id = self.ids["[PAD]"]

    @classmethod
    def from_pretrained(cls, folder, revision=None, trust_remote_code=False):
        del revision, trust_remote_code
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
            return cls(line.rstrip("\n") for line in f)

    def save_pretrained(self, out):
        with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(self.vocab) + "\n")
        write_json(os.path.join(out, "tokenizer_config.json"),
                   {"tokenizer_class": "BertTokenizer", "do_lower_case": True,
                    "model_max_length": self.model_max_length})

    def __len__(self):
        return len(self.vocab)

    def words(self, text):
        text = "".join(c for c in unicodedata.normalize("NFD", text.lower())
                       if unicodedata.category(c) != "Mn")
        return re.findall(r"[\u4e00-\u9fff]|[^\W\u4e00-\u9fff]+|[^\w\s]", text)

    def encode(self, text, max_length):
        ids = [self.ids["[CLS]"]]
        for word in self.words(text):
            start, pieces = 0, []
            while start < len(word):
                end = len(word)
                while end > start:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    if piece in self.ids:
                        break
                    end -= 1
                if end == start:
                    pieces = [self.ids["[UNK]"]]
                    break
                pieces.append(self.ids[piece])
                start = end
            ids += pieces
        return ids[:max_length - 1] + [self.ids["[SEP]"]]

    def __call__(self, texts, padding=True, truncation=True, max_length=512, return_tensors="pt"):
        del padding, truncation, return_tensors
        rows = [self.encode(t, max_length) for t in texts]
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.int64)
        mask = torch.zeros(len(rows), length, dtype=torch.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def small_vocab():
    words = set()
    for text in ex.REFERENCE_SENTENCES + ex.CHECK_SENTENCES:
        words.update(FakeWordPieceTokenizer(["[PAD]"]).words(text))
    letters = "abcdefghijklmnopqrstuvwxyz"
    return (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(words) + list(letters)
            + ["##" + c for c in letters])


def fake_transformers(model_class=None):
    """A module object that stands in for `transformers` in export()."""
    module = types.ModuleType("transformers")
    module.__version__ = "0.0.0-fake"
    module.AutoTokenizer = FakeWordPieceTokenizer
    seen = {}

    class AutoModel:
        @staticmethod
        def from_pretrained(folder, attn_implementation=None, revision=None,
                            trust_remote_code=False):
            del revision, trust_remote_code
            seen["attn_implementation"] = attn_implementation
            with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
                config = json.load(f)
            cls = model_class or FakeBertModel
            return cls(vocab_size=config["vocab_size"], dim=config["hidden_size"],
                       max_positions=config["max_position_embeddings"], seed=7)

    module.AutoModel = AutoModel
    module.seen = seen
    return module


@needs_torch
class WrapperTraceTest(unittest.TestCase):
    def setUp(self):
        self.model = FakeBertModel().eval()

    def test_wrapper_returns_last_hidden_state_and_passes_token_type_ids(self):
        wrapper = ex.make_wrapper(self.model)
        self.assertTrue(wrapper.with_token_type_ids)
        ids, mask = ex.dummy_batch(2, 9, 100, 0)
        with torch.no_grad():
            got = wrapper(ids, mask)
            want = self.model(ids, mask).last_hidden_state
        self.assertEqual(tuple(got.shape), (2, 9, 32))
        self.assertTrue(torch.equal(got, want))
        self.assertGreater(self.model.token_type_calls, 0)

    def test_wrapper_without_token_type_ids(self):
        model = FakeDistilModel().eval()
        wrapper = ex.make_wrapper(model)
        self.assertFalse(wrapper.with_token_type_ids)
        with torch.no_grad():
            self.assertEqual(tuple(wrapper(*ex.dummy_batch(1, 4, 100, 0)).shape), (1, 4, 32))

    def test_tuple_output(self):
        wrapper = ex.make_wrapper(FakeBertModel(tuple_output=True).eval())
        with torch.no_grad():
            self.assertEqual(tuple(wrapper(*ex.dummy_batch(2, 5, 100, 0)).shape), (2, 5, 32))

    def test_dummy_batch_pads_every_other_row(self):
        ids, mask = ex.dummy_batch(3, 7, 100, pad_id=0)
        self.assertEqual(ids.dtype, torch.int64)
        self.assertEqual(mask.dtype, torch.int64)
        self.assertEqual(mask[0].sum().item(), 7)
        self.assertLess(mask[1].sum().item(), 7)
        self.assertTrue(torch.all(ids[mask == 0] == 0))
        self.assertTrue(torch.all(ids[mask == 1] >= 5))

    def test_trace_is_dynamic_and_matches_eager(self):
        wrapper = ex.make_wrapper(self.model)
        traced, notes = ex.trace_encoder(wrapper, 100, 0)
        self.assertFalse([n for n in notes if "check_trace" in n], notes)
        batches = [ex.dummy_batch(b, t, 100, 0, seed=b * 100 + t)
                   for b, t in ((3, 7), (1, 1), (1, 5), (4, 33), (2, 64))]
        diff = ex.verify_traced(traced, wrapper, batches, 1e-4)
        self.assertLess(diff, 1e-4)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.pt")
            torch.jit.save(traced, path)
            loaded = torch.jit.load(path)
            self.assertLess(ex.verify_traced(loaded, wrapper, batches, 1e-4), 1e-4)
            # What the C++ side calls: forward with two positional int64 tensors.
            out = loaded.forward(*ex.dummy_batch(2, 11, 100, 0))
            self.assertEqual(tuple(out.shape), (2, 11, 32))

    def test_shape_specialized_trace_is_caught(self):
        wrapper = ex.make_wrapper(ShapeSpecializedModel().eval())
        traced, notes = ex.trace_encoder(wrapper, 100, 0)
        self.assertTrue(any("check_trace" in n or "tracer warning" in n for n in notes), notes)
        with self.assertRaisesRegex(ex.ExportError, r"\[3, 7\]"):
            ex.verify_traced(traced, wrapper, [ex.dummy_batch(3, 7, 100, 0)], 1e-4)

    def test_verify_reports_differences(self):
        wrapper = ex.make_wrapper(self.model)
        other = ex.make_wrapper(FakeBertModel(seed=1).eval())
        traced, _ = ex.trace_encoder(other, 100, 0)
        with self.assertRaisesRegex(ex.ExportError, "differs from eager"):
            ex.verify_traced(traced, wrapper, [ex.dummy_batch(2, 6, 100, 0)], 1e-4)

    def test_pool_as_the_server_does(self):
        hidden = torch.tensor([[[1.0, 0.0], [3.0, 4.0], [100.0, 100.0]]])
        mask = torch.tensor([[1, 1, 0]])
        mean = ex.pool(hidden, mask, "mean", normalize=False)
        self.assertTrue(torch.allclose(mean, torch.tensor([[2.0, 2.0]])))
        cls = ex.pool(hidden, mask, "cls", normalize=True)
        self.assertTrue(torch.allclose(cls, torch.tensor([[1.0, 0.0]])))
        unit = ex.pool(hidden, mask, "mean", normalize=True)
        self.assertAlmostEqual(unit.norm().item(), 1.0, places=6)
        cos = ex.cosine_matrix(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        self.assertAlmostEqual(cos[0, 1].item(), 1 / math.sqrt(2), places=6)
        self.assertAlmostEqual(cos[1, 1].item(), 1.0, places=6)


@needs_torch
class ExportTest(unittest.TestCase):
    """export() end to end, with the fake transformers module and a local model folder."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        # The folder's name makes infer_prefixes see an e5 model.
        self.model_dir = os.path.join(self.tmp.name, "multilingual-e5-small")
        self.out = os.path.join(self.tmp.name, "out")
        os.makedirs(self.model_dir)
        vocab = small_vocab()
        FakeWordPieceTokenizer(vocab).save_pretrained(self.model_dir)
        write_json(os.path.join(self.model_dir, "config.json"),
                   {"vocab_size": len(vocab), "hidden_size": 48, "max_position_embeddings": 40})
        self.saved = sys.modules.get("transformers")

    def tearDown(self):
        if self.saved is None:
            sys.modules.pop("transformers", None)
        else:
            sys.modules["transformers"] = self.saved
        self.tmp.cleanup()

    def run_export(self, *flags, model_class=None):
        sys.modules["transformers"] = fake_transformers(model_class)
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = ex.main(["--model", self.model_dir, "--out", self.out] + list(flags))
        return code, stdout.getvalue(), stderr.getvalue()

    def test_export_writes_a_loadable_folder(self):
        make_st_folder(self.model_dir, [ST_TRANSFORMER, ST_POOLING, ST_NORMALIZE], "cls_token",
                       max_seq_length=32)
        code, out, err = self.run_export()
        self.assertEqual(code, 0, err)
        self.assertEqual(sys.modules["transformers"].seen["attn_implementation"], "eager")
        for name in ("model.pt", "manifest.json", "vocab.txt", "tokenizer_config.json",
                     "reference.json"):
            self.assertTrue(os.path.isfile(os.path.join(self.out, name)), name)
        with open(os.path.join(self.out, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        self.assertEqual(manifest["format"], "semrec.encoder.v1")
        self.assertEqual(manifest["name"], self.model_dir)
        self.assertEqual(manifest["dimension"], 48)
        self.assertEqual(manifest["max_length"], 32)  # sentence-transformers max_seq_length
        self.assertEqual(manifest["pooling"], "cls")
        self.assertTrue(manifest["normalize"])
        self.assertEqual((manifest["query_prefix"], manifest["document_prefix"]),
                         ("query: ", "passage: "))
        self.assertEqual(manifest["tokenizer"], {"hf_folder": "."})
        self.assertEqual(manifest["output"], "token_embeddings")
        source = manifest["source"]
        self.assertEqual(source["model"], self.model_dir)
        self.assertEqual(source["transformers"], "0.0.0-fake")
        self.assertEqual(source["torch"], torch.__version__)
        self.assertEqual(source["tokenizer_family"], "wordpiece")
        self.assertTrue(source["st_normalize_module"])
        self.assertLess(source["trace_max_abs_diff"], 1e-4)
        self.assertRegex(source["date"], r"^\d{4}-\d\d-\d\dT")
        # The summary and reference.
        self.assertIn("pooling:     cls", out)
        self.assertIn("cosine [0]-[1]", out)
        self.assertIn("semrec-server --model_dir=", out)
        with open(os.path.join(self.out, "reference.json"), encoding="utf-8") as f:
            reference = json.load(f)
        self.assertEqual(reference["texts"][0], "query: " + ex.REFERENCE_SENTENCES[0])
        # The reference is the saved TorchScript model pooled as the manifest says.
        module = torch.jit.load(os.path.join(self.out, "model.pt"))
        tokenizer = FakeWordPieceTokenizer.from_pretrained(self.out)
        batch = tokenizer(reference["texts"], max_length=manifest["max_length"])
        with torch.no_grad():
            hidden = module(batch["input_ids"], batch["attention_mask"])
        pooled = ex.pool(hidden, batch["attention_mask"], "cls", True)
        self.assertEqual(reference["token_ids"][0],
                         [t for t in batch["input_ids"][0].tolist() if t != 0])
        for i in range(3):
            for j in range(8):
                self.assertAlmostEqual(pooled[i, j].item(), reference["embeddings_head"][i][j],
                                       places=4)
        self.assertAlmostEqual((pooled[0] @ pooled[2]).item(), reference["cosine"][0][2], places=4)

    def test_flags_override_inference(self):
        code, _, err = self.run_export("--pooling", "mean", "--max-length", "24", "--query-prefix",
                                       "", "--document-prefix", "doc: ", "--no-normalize")
        self.assertEqual(code, 0, err)
        with open(os.path.join(self.out, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        self.assertEqual((manifest["pooling"], manifest["max_length"], manifest["normalize"]),
                         ("mean", 24, False))
        self.assertEqual((manifest["query_prefix"], manifest["document_prefix"]), ("", "doc: "))
        self.assertEqual(manifest["source"]["max_length_from"], "--max-length")

    def test_default_max_length_is_the_position_limit(self):
        code, _, err = self.run_export()
        self.assertEqual(code, 0, err)
        with open(os.path.join(self.out, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        self.assertEqual(manifest["max_length"], 40)
        self.assertEqual(manifest["pooling"], "mean")  # no sentence-transformers files

    def test_errors(self):
        code, _, err = self.run_export("--max-length", "41")
        self.assertEqual(code, 1)
        self.assertIn("exceeds the model's 40 positions", err)
        # The folder now holds tokenizer files: a second run needs --force.
        code, _, err = self.run_export()
        self.assertEqual(code, 1)
        self.assertIn("--force", err)
        self.assertEqual(self.run_export("--force")[0], 0)
        make_st_folder(self.model_dir, [ST_TRANSFORMER, ST_POOLING], "max_tokens")
        code, _, err = self.run_export("--force")
        self.assertEqual(code, 1)
        self.assertIn("semrec supports mean and cls", err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "manifest.json")))

    def read_manifest(self):
        with open(os.path.join(self.out, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)

    def test_encoder_decoder_exports_its_encoder(self):
        code, out, err = self.run_export(model_class=FakeEncoderDecoderModel)
        self.assertEqual(code, 0, err)
        self.assertIn("exported its encoder", out)
        self.assertEqual(self.read_manifest()["source"]["model_class"], "FakeDistilModel")

    def test_decoder_only_model_is_refused(self):
        code, _, err = self.run_export(model_class=FakeCausalModel)
        self.assertEqual(code, 1)
        self.assertIn("decoder-only", err)

    def test_half_precision(self):
        code, out, err = self.run_export("--dtype", "bfloat16")
        if code != 0 and "does not run on this CPU" in err:
            self.skipTest("this torch has no bfloat16 CPU kernels")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.read_manifest()["source"]["dtype"], "bfloat16")
        module = torch.jit.load(os.path.join(self.out, "model.pt"))
        hidden = module(*ex.dummy_batch(2, 5, len(small_vocab()), 0))
        self.assertEqual(hidden.dtype, torch.bfloat16)
        self.assertIn("--device=cuda", out)

    def test_sentence_transformers_files_unreadable(self):
        hub = types.ModuleType("huggingface_hub")

        def snapshot_download(**kwargs):
            raise OSError("offline")

        hub.snapshot_download = snapshot_download
        saved = sys.modules.get("huggingface_hub")
        sys.modules["huggingface_hub"] = hub
        try:
            with self.assertRaisesRegex(ex.ExportError, "pass --pooling"):
                ex.fetch_sentence_transformers_folder("org/model", None, "auto")
            self.assertIsNone(ex.fetch_sentence_transformers_folder("org/model", None, "cls"))
        finally:
            if saved is None:
                del sys.modules["huggingface_hub"]
            else:
                sys.modules["huggingface_hub"] = saved
        self.assertEqual(ex.fetch_sentence_transformers_folder(self.model_dir, None, "auto"),
                         self.model_dir)

    def test_shape_specialized_model_fails(self):
        code, _, err = self.run_export(model_class=ShapeSpecializedModel)
        self.assertEqual(code, 1)
        self.assertIn("traced model fails on input shape", err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "manifest.json")))


if __name__ == "__main__":
    unittest.main()
