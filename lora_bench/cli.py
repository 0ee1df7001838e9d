"""`lora-bench`: the package's entry points outside the DAG (the DAG calls the same functions)."""

from __future__ import annotations

import argparse
import json
import sys


def _params(args) -> dict:
    from lora_bench.methods import apply_method, count_parameters
    from lora_bench.models import build_random

    # Built on the meta device: the architecture without memory or weights, so any size counts instantly.
    model = build_random(args.model, num_labels=args.num_labels, device="meta")
    apply_method(model, args.method, rank=args.rank, **json.loads(args.hparams))
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


def _validate(args) -> dict:
    from lora_bench import config as lb_config

    cfg = lb_config.load(args.config)
    return {"config": args.config, "runs": len(lb_config.runs(cfg)), "analysis_runs": len(lb_config.analysis_runs(cfg)),
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

    p = sub.add_parser("validate", help="check a config and count its runs")
    p.add_argument("config")
    p.set_defaults(fn=_validate)

    args = parser.parse_args(argv)
    try:
        result = args.fn(args)
    except (KeyError, ValueError, TypeError, FileNotFoundError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
