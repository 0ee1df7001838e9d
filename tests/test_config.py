"""Bad configs fail at validation with the bad value named; good ones expand into the run grid."""

from pathlib import Path

import pytest
import yaml

from lora_bench import config as C

REPO = Path(__file__).resolve().parent.parent


def _base():
    return yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


@pytest.mark.parametrize("path,value,needle", [
    (("methods", "lorax"), {}, "lorax"),
    (("models",), ["gpt5"], "gpt5"),
    (("tasks", "squad"), {}, "squad"),
    (("methods", "lora", "ranks"), [0], "ranks.0"),
    (("methods", "lora", "ranks"), [-4], "-4"),
    (("methods", "ft", "ranks"), [8], "ft"),
    (("methods", "lora", "hparams"), {"alhpa": 4}, "alhpa"),
    (("train", "lr"), -1, "lr"),
    (("train", "epochs"), "three", "three"),
    (("seeds",), [], "seeds"),
])
def test_bad_values_are_named(path, value, needle, rejects):
    rejects(_base(), path, value, needle)


def test_grid_and_layered_settings():
    cfg = _base()
    cfg["seeds"] = [0, 1]
    cfg["tasks"] = {"sst2": {"epochs": 2}, "rte": None}
    cfg["methods"]["lora"] = {"ranks": [2, 8], "train": {"lr": 5e-4}, "tasks": {"rte": {"lr": 1e-4}}}
    cfg["compare"] = {"baseline": "lora", "baseline_rank": 8}
    cfg = C.validate(cfg)
    keys = C.runs(cfg)
    # 2 tasks × (ft, bitfit, adapter_h, adapter_l, lora r2, lora r8) × 2 seeds
    assert len(keys) == 2 * 6 * 2
    spec = C.run_spec(cfg, C.RunKey("tiny-bert", "rte", "lora", 8, 1))
    assert spec["train"]["lr"] == 1e-4 and spec["train"]["batch_size"] == 8
    assert C.run_spec(cfg, C.RunKey("tiny-bert", "sst2", "lora", 8, 1))["train"] | {} == \
        cfg["train"] | {"epochs": 2, "lr": 5e-4}
    assert C.run_dir(cfg, keys[0]).startswith("results/runs/tiny-bert/")


def test_default_config_is_valid():
    cfg = C.load(REPO / "config.yaml")
    assert {"ft", "bitfit", "lora", "adapter_h", "adapter_l"} <= set(cfg["methods"])
    assert len(cfg["seeds"]) >= 2


def test_a_named_variant_configures_a_registered_method():
    cfg = _base()
    del cfg["compare"]
    cfg["methods"] = {"lora_q": {"method": "lora", "ranks": [4], "hparams": {"targets": ["q"]}}}
    cfg = C.validate(cfg)
    spec = C.run_spec(cfg, C.runs(cfg)[0])
    assert spec["method"] == "lora_q" and spec["base_method"] == "lora" and spec["hparams"] == {"targets": ["q"]}
    cfg["methods"] = {"lora_q": {"method": "lorax", "ranks": [4]}}
    with pytest.raises(C.ConfigError, match="methods.lora_q.method: unknown method 'lorax'"):
        C.validate(cfg)


def test_paper_and_released_scripts_profiles_differ_where_the_scripts_do():
    paper = C.load(REPO / "configs" / "paper-v2.yaml")
    released = C.load(REPO / "configs" / "released-scripts.yaml")
    assert len(paper["tasks"]) == 8 and len(paper["seeds"]) == 5 and paper["models"] == ["roberta-base"]

    def global_batch(spec):
        return spec["train"]["batch_size"] * spec["train"]["devices"] * spec["train"]["grad_accumulation"]

    for task in paper["tasks"]:
        key = C.RunKey("roberta-base", task, "lora", 8, 0)
        p, r = C.run_spec(paper, key), C.run_spec(released, key)
        assert (p["hparams"]["alpha"], r["hparams"]["alpha"]) == (8, 16)
        assert global_batch(p) in (16, 32) and global_batch(r) == 8 * global_batch(p)
        assert (p["train"]["epochs"], p["train"]["lr"]) == (r["train"]["epochs"], r["train"]["lr"])


def test_conda_env_holds_every_dependency():
    """workflow/envs/lora-bench.yaml is what `--sdm conda` jobs run with; it must not drift from pyproject.toml."""
    import re
    import tomllib

    def name(requirement: str) -> str:
        return re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0]

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "workflow" / "envs" / "lora-bench.yaml").read_text())["dependencies"]
    names = {name(str(d)) for d in env if isinstance(d, str)}
    names |= {name(d) for d in next(d["pip"] for d in env if isinstance(d, dict))}
    conda_name = {"torch": "pytorch", "matplotlib": "matplotlib-base"}
    for dep in map(name, deps):
        if dep != "snakemake":  # jobs import the Snakemake that runs them
            assert conda_name.get(dep, dep) in names, dep


@pytest.mark.parametrize("compare,needle", [
    ({"baseline": "lorax"}, "compare.baseline: 'lorax' is not under methods"),
    ({"baseline": "lora", "methods": ["ft", "dora"]}, "compare.methods: 'dora'"),
    ({"baseline": "lora", "baseline_rank": 4}, "compare.baseline_rank: 4 is not among lora's ranks"),
    ({"methods": ["ft"]}, "baseline"),
])
def test_bad_compare_sections_are_named(compare, needle):
    cfg = _base()
    cfg["compare"] = compare
    with pytest.raises(C.ConfigError, match=needle):
        C.validate(cfg)


def test_compare_defaults_to_every_method_and_the_baselines_only_rank():
    cfg = C.validate(_base())
    assert cfg["compare"] == {"baseline": "lora", "baseline_rank": 2, "methods": list(_base()["methods"])}
    several = _base()
    several["methods"]["lora"]["ranks"] = [2, 8]
    with pytest.raises(C.ConfigError, match=r"lora runs ranks \[2, 8\]; say which one"):
        C.validate(several)
