"""`lora-bench`: the package's entry points outside the DAG (the DAG calls the same functions)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _params(args) -> dict:
    from lora_bench.methods import apply_method, count_parameters, load_plugins
    from lora_bench.models import build_random

    load_plugins(args.plugin)
    # Built on the meta device: the architecture without memory or weights, so any size counts instantly.
    model = build_random(args.model, num_labels=args.num_labels, device="meta")
    model = apply_method(model, args.method, rank=args.rank, **json.loads(args.hparams))
    return {"model": args.model, "method": args.method, "rank": args.rank, **count_parameters(model)}


def _train(args) -> dict:
    from lora_bench import config as lb_config
    from lora_bench.train import run

    cfg = lb_config.load(args.config)
    key = lb_config.RunKey(args.model, args.task, args.method, args.rank, args.seed)
    if key not in lb_config.runs(cfg) + lb_config.analysis_runs(cfg):
        raise SystemExit(f"error: {key} is not in the grid of {args.config}")
    out = args.out or f"{lb_config.run_dir(cfg, key)}/metrics.json"
    record = run(lb_config.run_spec(cfg, key), out, threads=args.threads or cfg["threads_per_run"])
    return {"out": out, "status": record["status"], "best": record["best"] and record["best"]["headline"]}


def _score_e2e(args) -> dict:
    from lora_bench.metrics_nlg import score_files

    return score_files(args.predictions, args.references)


def _prefetch(args) -> dict:
    from lora_bench import config as lb_config
    from lora_bench.prefetch import prefetch

    cfg = lb_config.load(args.config)
    resources = args.resources or cfg["resources_dir"]
    return {"resources": resources, "items": prefetch(cfg, resources),
            "run offline with": f"--config model_dir={resources}/models data_dir={resources}/data"}


def _export_peft(args) -> dict:
    from lora_bench.interop import rebuild, save_peft_lora
    from lora_bench.models import get_entry, resolve

    model = rebuild(args.run_dir)
    spec = json.loads((Path(args.run_dir) / "metrics.json").read_text())["spec"]
    # peft records where the base model comes from; a random-init test model has no such place.
    base = None if get_entry(spec["model"]).random_init else resolve(spec["model"], spec["model_dir"])
    out = save_peft_lora(model, args.out or Path(args.run_dir) / "peft", base_model=base)
    return {"out": str(out), "files": sorted(p.name for p in out.iterdir())}


def _latency(args) -> dict:
    from lora_bench import config as lb_config
    from lora_bench.efficiency import latency
    from lora_bench.report import table1

    cfg = lb_config.load(args.config)
    if not cfg.get("efficiency"):
        raise ValueError(f"{args.config} has no 'efficiency' section")
    if args.grid:
        cfg["efficiency"]["latency"]["grid"] = args.grid
        cfg = lb_config.validate(cfg)
    out = args.out or f"{cfg['results_dir']}/efficiency/latency.json"
    latency.measure(lb_config.latency_spec(cfg), out, threads=args.threads)
    table = table1.aggregate(out)
    return {"out": out, "pct_over_base": {f"batch {r.batch} seq {r.seq} {r.variant}": round(r.pct_over_base, 2)
                                          for r in table.itertuples() if r.variant != "base"}}


def _validate(args) -> dict:
    from lora_bench import config as lb_config

    cfg = lb_config.load(args.config)
    return {"config": args.config, "runs": len(lb_config.runs(cfg)), "nlg_runs": len(lb_config.nlg_runs(cfg)),
            "analysis_runs": len(lb_config.analysis_runs(cfg)),
            "valid": True}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lora-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("params", help="count trainable parameters of a method on a catalogued architecture")
    p.add_argument("--model", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--num-labels", type=int, default=2)
    p.add_argument("--hparams", default="{}", help="method hyper-parameters as JSON, e.g. '{\"targets\": [\"q\"]}'")
    p.add_argument("--plugin", action="append", default=[], help="a plugin file or module defining the method")
    p.set_defaults(fn=_params)

    p = sub.add_parser("train", help="run one (model, task, method, rank, seed) of a config's grid")
    p.add_argument("--config", default="config.yaml")
    for name in ("model", "task", "method"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("--out")
    p.set_defaults(fn=_train)

    p = sub.add_parser("score-e2e", help="score outputs with the official E2E metrics (BLEU NIST METEOR ROUGE_L CIDEr)")
    p.add_argument("--predictions", required=True, help="one output per line, in the references' MR order")
    p.add_argument("--references", required=True,
                   help="official format: the references of one MR on consecutive lines, a blank line between MRs")
    p.set_defaults(fn=_score_e2e)

    p = sub.add_parser("prefetch", help="put every model and dataset a config needs into resources_dir (air-gapped runs)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--resources", help="target folder (default: the config's resources_dir)")
    p.set_defaults(fn=_prefetch)

    p = sub.add_parser("export-peft", help="write a finished LoRA run (saved with train.save_weights) in peft's layout")
    p.add_argument("run_dir", help="the run's folder, holding metrics.json and weights.safetensors")
    p.add_argument("--out", help="target folder (default: <run_dir>/peft)")
    p.set_defaults(fn=_export_peft)
    p = sub.add_parser("latency", help="time one forward pass of base, merged/unmerged LoRA and adapters "
                                       "over the config's efficiency.latency grid (Table 1)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--grid", help="which of efficiency.latency.grids to run (default: the config's choice)")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    p.add_argument("--out", help="the record (default: <results_dir>/efficiency/latency.json)")
    p.set_defaults(fn=_latency)

    p = sub.add_parser("validate", help="check a config and count its runs")
    p.add_argument("config")
    p.set_defaults(fn=_validate)

    args = parser.parse_args(argv)
    try:
        result = args.fn(args)
    except (KeyError, ValueError, TypeError, FileNotFoundError, ImportError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
