"""A method defined outside the package joins the registry and the grid from the config alone, in every process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lora_bench import config as C
from lora_bench.methods import METHODS, apply_method, count_parameters, load_plugins
from lora_bench.methods.lora import lora_layers
from lora_bench.models import build_random
from lora_bench.train import run

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "plugins" / "lora_sqrt.py"

# A plugin of its own (not the README's), so the test proves discovery rather than a file the package knows.
PLUGIN = '''
from lora_bench.methods import register

@register("{name}", uses_rank=False, description="LayerNorm gains and biases only")
def apply(model, rank=0, include_bias=True):
    for n, p in model.named_parameters():
        if "LayerNorm" in n and (include_bias or n.endswith("weight")):
            p.requires_grad_(True)
'''


def _config(data_dir, plugins, methods):
    return {"models": ["tiny-bert"], "seeds": [0], "data_dir": str(data_dir), "tasks": {"sst2": {}},
            "plugins": plugins, "methods": methods,
            "train": {"epochs": 1, "batch_size": 8, "max_length": 32, "train_size": 16, "eval_size": 16}}


def test_a_plugin_file_is_registered_and_its_run_trains(tmp_path, data_dir):
    plugin = tmp_path / "ln_tune.py"
    plugin.write_text(PLUGIN.format(name="ln_tune_a"))
    cfg = C.validate(_config(data_dir, [str(plugin)], {"ln_tune_a": {"hparams": {"include_bias": False}}}))
    assert METHODS["ln_tune_a"].plugin == str(plugin)
    spec = C.run_spec(cfg, C.runs(cfg)[0])
    assert spec["plugin"] == str(plugin)
    C.validate(_config(data_dir, [str(plugin)], {"ln_tune_a": {}}))  # a second load does not register twice

    # The run in a fresh process, as a Snakemake job: it loads the plugin from the spec.
    out = tmp_path / "metrics.json"
    code = ("import json, sys; from lora_bench.train import run; "
            f"run(json.loads(sys.argv[1]), {str(out)!r})")
    r = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["status"] == "ok" and record["run"]["method"] == "ln_tune_a"
    assert record["params"]["trainable_excluding_head"] == (2 * 2 + 1) * 32  # (2 layers × 2 + embeddings) LayerNorm gains
    assert record["provenance"]["plugin"]["sha256"]


def test_adding_a_plugin_leaves_other_runs_specs_alone(tmp_path, data_dir):
    plugin = tmp_path / "ln_tune.py"
    plugin.write_text(PLUGIN.format(name="ln_tune_b"))
    plain = C.validate(_config(data_dir, [], {"bitfit": {}}))
    more = C.validate(_config(data_dir, [str(plugin)], {"bitfit": {}, "ln_tune_b": {}}))
    key = C.runs(plain)[0]
    assert C.run_spec(plain, key) == C.run_spec(more, key)  # so Snakemake reruns nothing that existed


def test_an_importable_module_is_a_plugin(tmp_path, data_dir, monkeypatch):
    (tmp_path / "my_methods.py").write_text(PLUGIN.format(name="ln_tune_c"))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = C.validate(_config(data_dir, ["my_methods"], {"ln_tune_c": {}}))
    assert C.run_spec(cfg, C.runs(cfg)[0])["plugin"] == "my_methods"


@pytest.mark.parametrize("entry,needle", [("no/such/file.py", "not found"), ("no_such_module_xyz", "no_such_module_xyz")])
def test_a_missing_plugin_is_named(entry, needle, data_dir):
    with pytest.raises(C.ConfigError, match=needle):
        C.validate(_config(data_dir, [entry], {"bitfit": {}}))


def test_the_readme_example_scales_by_alpha_over_sqrt_r(data_dir):
    load_plugins([str(EXAMPLE)])
    torch.manual_seed(0)
    model = apply_method(build_random("tiny-bert"), "lora_sqrt", rank=4, alpha=8)
    assert all(layer.scaling == 8 / 2 for layer in lora_layers(model))
    lora = apply_method(build_random("tiny-bert"), "lora", rank=4, alpha=8)
    assert count_parameters(model) == count_parameters(lora)


def test_the_readme_example_runs(tmp_path, data_dir):
    cfg = C.validate(_config(data_dir, [str(EXAMPLE)], {"lora_sqrt": {"ranks": [2], "hparams": {"alpha": 4}}}))
    record = run(C.run_spec(cfg, C.runs(cfg)[0]), tmp_path / "metrics.json")
    assert record["status"] == "ok" and record["params"]["trainable_excluding_head"] == 2 * 2 * 2 * 32 * 2
