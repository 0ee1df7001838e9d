"""Data-to-text NLG (Table 3 and the WebNLG/DART table): E2E NLG, WebNLG 2017, DART.

Every split loads into one shape, a list of entries ``{"source", "references", "category"}``: the linearised
meaning representation (MR), all its references, and (WebNLG) its DBpedia category. Training flattens the entries
into one (MR, reference) pair per reference; evaluation decodes each MR once and scores it against all of its
references.

Local files first (``<data_dir>/...``, as ``../shared/data`` lays them out), the Hugging Face hub otherwise:
  * E2E: ``e2e_nlg/<split>.jsonl`` with the hub's columns (``tuetschek/e2e_nlg``: ``meaning_representation``,
    ``human_reference``, one row per reference);
  * WebNLG 2017: validation = the paper's ``lora_format/dev.json``, test = the official ``testdata_with_lex.xml``;
  * DART: validation = the paper's ``dart-v1.1.1-full-dev.json``, test = the official v1.1.1 test XML.
WebNLG and DART have no local training split; it comes from the hub or not at all (a clear error).

MRs are linearised as the paper's code does: E2E ``name : The Eagle | Type : pub | ...`` (its format-converting
script renames eatType → Type, priceRange → price, familyFriendly → family friendly); WebNLG and DART
``subject : property : object | ...`` (DART's property lower-cased). References are the released text, untokenised.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import datasets

from lora_bench import hub
from lora_bench.data import data_dir as _data_dir


@dataclass(frozen=True)
class NlgTask:
    name: str
    hub_id: str
    hub_config: str | None
    local: dict[str, str]  # split → path under the data directory
    metrics: tuple[str, ...]  # what its table reports, in the paper's order
    eval_split: str = "test"


TASKS: dict[str, NlgTask] = {
    t.name: t
    for t in [
        NlgTask("e2e", "tuetschek/e2e_nlg", None,
                {s: f"e2e_nlg/{s}.jsonl" for s in ("train", "validation", "test")},
                ("BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr")),
        NlgTask("webnlg", "webnlg-challenge/web_nlg", "webnlg_challenge_2017",
                {"validation": "webnlg_challenge_2017/lora_format/dev.json",
                 "test": "webnlg_challenge_2017/official/testdata_with_lex.xml"},
                ("BLEU", "METEOR", "TER")),
        NlgTask("dart", "GEM/dart", None,
                {"validation": "dart/lora_v1.1.1_2020-07/dart-v1.1.1-full-dev.json",
                 "test": "dart/yale_v1.1.1_2021-04/dart-v1.1.1-full-test.xml"},
                ("BLEU", "METEOR", "TER")),
    ]
}

# WebNLG 2017's categories present in training; the others are the test set's "unseen" (U) part.
WEBNLG_SEEN = {"Airport", "Astronaut", "Building", "City", "ComicsCharacter", "Food", "Monument", "SportsTeam",
               "University", "WrittenWork"}

_E2E_KEYS = {"eatType": "Type", "priceRange": "price", "familyFriendly": "family friendly"}


def get_task(name: str) -> NlgTask:
    if name not in TASKS:
        raise KeyError(f"unknown NLG task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[name]


def e2e_source(mr: str) -> str:
    """'name[The Eagle], eatType[pub]' → 'name : The Eagle | Type : pub' (the paper's input format)."""
    parts = []
    for slot in mr.split("], "):
        key, _, value = slot.partition("[")
        parts.append(f"{_E2E_KEYS.get(key.strip(), key.strip())} : {value.rstrip(']')}")
    return " | ".join(parts)


def triples_source(triples: list[tuple[str, str, str]]) -> str:
    return " | ".join(f"{s} : {p} : {o}" for s, p, o in triples)


def _entry(source: str, references: list[str], category: str | None = None) -> dict:
    return {"source": source, "references": references, "category": category}


# ---------------------------------------------------------------------------------------------------- parsers


def _group_e2e(rows) -> list[dict]:
    """One entry per MR, references in file order (an MR's references are consecutive in the release)."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row["meaning_representation"], []).append(row["human_reference"])
    return [_entry(e2e_source(mr), refs) for mr, refs in groups.items()]


def _webnlg_json(path: Path) -> list[dict]:
    out = []
    for item in json.loads(path.read_text(encoding="utf-8"))["entries"]:
        (e,) = item.values()
        triples = [(t["subject"], t["property"], t["object"]) for t in e["modifiedtripleset"]]
        refs = [lex["lex"] for lex in e["lexicalisations"] if lex["comment"] == "good"]  # the paper drops 'toFix'
        if refs:
            out.append(_entry(triples_source(triples), refs, e["category"]))
    return out


def _benchmark_xml(path: Path, lower_property: bool, only_good: bool) -> list[dict]:
    """The WebNLG/DART release XML: <entry category=...><modifiedtripleset><mtriple>s | p | o</mtriple>...<lex>."""
    out = []
    for e in ET.parse(path).getroot().iter("entry"):
        triples = []
        for m in e.iter("mtriple"):
            s, p, o = (x.strip() for x in m.text.split(" | "))
            triples.append((s, p.lower() if lower_property else p, o))
        refs = [lex.text.strip() for lex in e.iter("lex")
                if lex.text and (not only_good or lex.get("comment") == "good")]
        if refs:
            out.append(_entry(triples_source(triples), refs, e.get("category")))
    return out


def _dart_json(path: Path) -> list[dict]:
    out = []
    for e in json.loads(path.read_text(encoding="utf-8")):
        triples = [(s, p.lower(), o) for s, p, o in e["tripleset"]]
        out.append(_entry(triples_source(triples), [a["text"] for a in e["annotations"]]))
    return out


def _parse_local(task: str, path: Path) -> list[dict]:
    if task == "e2e":
        return _group_e2e(datasets.load_dataset("json", data_files=str(path), split="train"))
    if path.suffix == ".xml":
        return _benchmark_xml(path, lower_property=task == "dart", only_good=task == "webnlg")
    return _webnlg_json(path) if task == "webnlg" else _dart_json(path)


def _parse_hub(task: str, ds) -> list[dict]:
    if task == "e2e":
        return _group_e2e(ds)
    out = []
    for row in ds:
        if task == "webnlg":  # hub rows: modified_triple_sets.mtriple_set, lex.{text, comment}, category
            triples = [tuple(x.strip() for x in t.split(" | ")) for t in row["modified_triple_sets"]["mtriple_set"][0]]
            refs = [t for t, c in zip(row["lex"]["text"], row["lex"]["comment"]) if c == "good"]
            category = row["category"]
        else:  # GEM/dart: tripleset [[s, p, o]], references
            triples = [(s, p.lower(), o) for s, p, o in row["tripleset"]]
            refs, category = list(row["references"]) or [row["target"]], None
        if refs:
            out.append(_entry(triples_source(triples), refs, category))
    return out


# ---------------------------------------------------------------------------------------------------- loading


def load_split(task: str, split: str, data_dir: str | Path | None = None) -> tuple[list[dict], str]:
    """(entries, source): the local file if present, else the hub; a clear error naming what was tried."""
    t = get_task(task)
    root = _data_dir(data_dir)
    looked = []
    if split in t.local and root is not None:
        path = root / t.local[split]
        if path.exists():
            return _parse_local(task, path), str(path)
        looked.append(str(path))
    else:
        looked.append(f"no local {task} {split} split" if root else "no data directory configured")
    if not hub.OFFLINE:
        try:
            ds = datasets.load_dataset(t.hub_id, t.hub_config, split=split)
            return _parse_hub(task, ds), f"hub:{t.hub_id}"
        except Exception as e:  # noqa: BLE001 - reported with the places looked in
            looked.append(f"hub {t.hub_id} ({type(e).__name__}: {e})")
    else:
        looked.append(f"hub {t.hub_id} (offline)")
    raise FileNotFoundError(f"NLG task {task!r}, split {split!r} not found; looked in: {'; '.join(looked)}")


def training_pairs(entries: list[dict]) -> list[tuple[str, str]]:
    """One (MR, reference) pair per reference, as the paper trains."""
    return [(e["source"], ref) for e in entries for ref in e["references"]]


# ---------------------------------------------------------------------------------------------------- prompts


def encode_pair(tok, source: str, target: str | None, max_length: int) -> dict:
    """The paper's format: MR tokens, the EOS token as separator, ' ' + reference tokens, EOS.

    Labels are -100 on the MR and the separator, so the loss covers the reference and its closing EOS only.
    Without a target this is the generation prompt (MR + separator). Over-long pairs lose the end of the reference.
    """
    context = tok(source, add_special_tokens=False)["input_ids"][: max_length - 2] + [tok.eos_token_id]
    if target is None:
        return {"input_ids": context, "attention_mask": [1] * len(context)}
    completion = tok(" " + target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = (context + completion)[:max_length]
    labels = ([-100] * len(context) + completion)[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}
