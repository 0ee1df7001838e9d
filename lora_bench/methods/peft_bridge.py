"""Any method of Hugging Face peft as a lora-bench method: ``peft:<type>`` (``peft:ia3``, ``peft:lora`` with
``use_dora: true``, ``peft:vera``, ``peft:adalora``, ...), its peft config keyword arguments under the method's
``hparams``, and the run's rank as the config's ``r`` (AdaLoRA: ``target_r``, its average final rank).

peft is an optional extra (``pip install 'lora-bench[peft]'``), imported only when a ``peft:`` method is asked
for; without it, asking for one fails at config validation. peft's tuner injects its layers into the model in
place and marks only them trainable; `apply_method` then unfreezes the task head, which peft is not told about
(so `modules_to_save` is not offered: the head is lora-bench's), and the trainer and the parameter count treat
the result as any other method.
"""

from __future__ import annotations

import dataclasses

from lora_bench.methods import Method, register_family

RANK_FIELD = {"adalora": "target_r"}  # the config field the run's rank sets, where it is not `r`
# Config fields that are peft's bookkeeping or that lora-bench owns (the head, the task), not method settings.
NOT_HPARAMS = {"task_type", "peft_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision",
               "inference_mode", "modules_to_save"}


def make(kind: str) -> Method:
    name = f"peft:{kind}"
    try:
        from peft.config import PromptLearningConfig
        from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING
    except ImportError:
        raise KeyError(f"method {name!r} needs peft, an optional extra: pip install 'lora-bench[peft]'") from None
    peft_type = kind.upper()
    if peft_type not in PEFT_TYPE_TO_TUNER_MAPPING:
        known = ", ".join(sorted(t.lower() for t in PEFT_TYPE_TO_TUNER_MAPPING))
        raise KeyError(f"method {name!r}: peft has no method {kind!r}; it has {known}")
    config_cls, tuner_cls = PEFT_TYPE_TO_CONFIG_MAPPING[peft_type], PEFT_TYPE_TO_TUNER_MAPPING[peft_type]
    if issubclass(config_cls, PromptLearningConfig):
        raise KeyError(f"method {name!r} is prompt learning, which changes the input rather than the model's "
                       "layers; the bridge supports peft's layer tuners only")
    fields = {f.name for f in dataclasses.fields(config_cls)} - NOT_HPARAMS
    rank_field = RANK_FIELD.get(kind, "r") if RANK_FIELD.get(kind, "r") in fields else None

    def peft_config(rank: int, hparams: dict):
        return config_cls(**hparams, **({rank_field: rank} if rank_field else {}))

    def check(rank: int, hparams: dict) -> None:
        try:
            peft_config(max(rank, 1), hparams)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: {e}") from None

    def apply(model, rank=0, **hparams):
        # The tuner (not just the model it mutates) is what trains: AdaLoRA adds its orthogonality penalty to
        # the loss in the tuner's forward and reallocates ranks through it after each step.
        return tuner_cls(model, peft_config(rank, hparams), adapter_name="default")

    after_step = (lambda tuner, step: tuner.update_and_allocate(step)) if kind == "adalora" else None
    return Method(name, apply, uses_rank=rank_field is not None, description=f"peft {config_cls.__name__}",
                  hparams=frozenset(fields - {rank_field}), check=check, after_step=after_step)


register_family("peft", make)
