"""NLG metrics as the paper scored them: the official E2E script, and the WebNLG/DART evaluation.

E2E (tuetschek/e2e-metrics, ``measure_scores.py``): BLEU and NIST come from its ``mteval-v13a-sig.pl``, METEOR 1.5,
ROUGE-L and CIDEr from the COCO caption toolkit (``pycocoevalcap``: Stanford PTB tokenisation, lower-cased,
punctuation dropped). All are corpus-level scores over multiple references per MR, on the script's scale
(BLEU, METEOR, ROUGE-L in [0, 1]; the paper prints them × 100).

mteval-v13a, and where sacrebleu differs from it:
  * tokenisation: ASCII-only lower-casing (Perl's ``tr/A-Z/a-z/``, so 'É' stays) after the entity replacements,
    then the 13a punctuation rules (sacrebleu's ``TokenizerRegexp``, which is a transcription of them);
  * BLEU: sacrebleu counts the n-gram matches and the closest reference length (ties → the shorter); the final
    formula is mteval's, because sacrebleu's differs at the edges (it returns 0 when nothing matches and when a
    hypothesis order has no n-grams, where mteval smooths by 1/2^k and skips the order);
  * NIST: no kept library computes mteval's NIST (nltk's differs), so it is implemented here. The E2E edition of
    the script counts only the non-empty references of each MR when it averages the reference length.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections import Counter
from pathlib import Path

import sacrebleu
from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

E2E_METRICS = ("BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr")
WEBNLG_METRICS = ("BLEU", "METEOR", "TER")

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PUNCT_RULES = TokenizerRegexp()
NIST_ORDER = 5
BLEU_ORDER = 4


# ---------------------------------------------------------------------------------------------------- files


def read_predictions(path: str | Path) -> list[str]:
    """One system output per line (stripped, as the official script reads them)."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]


def read_references(path: str | Path) -> list[list[str]]:
    """The official multi-reference format: the references of one MR on consecutive lines, MRs separated by one
    blank line. A file without blank lines is single-reference (one reference per line), as the script reads it."""
    groups: list[list[str]] = [[]]
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            groups[-1].append(line)
        else:
            groups.append([])
    if not groups[-1]:
        groups.pop()
    if len(groups) == 1:
        groups = [[ref] for ref in groups[0]]
    return groups


def write_references(path: str | Path, references: list[list[str]]) -> None:
    Path(path).write_text("\n\n".join("\n".join(refs) for refs in references) + "\n", encoding="utf-8")


def check_lengths(predictions: list[str], references: list[list[str]], where: str = "") -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{where}{len(predictions)} predictions but {len(references)} MRs in the references: "
                         "one prediction per MR is needed, in the references' order")
    empty = [i for i, refs in enumerate(references) if not refs]
    if empty:
        raise ValueError(f"{where}MR(s) {empty[:5]} have no reference")


# ---------------------------------------------------------------------------------------------------- BLEU, NIST


def mteval_tokenize(text: str) -> str:
    """mteval-v13a's default tokenisation, lower-cased as the E2E script runs it (no ``-c``)."""
    text = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
        text = text.replace(entity, char)
    return _PUNCT_RULES(f" {text.translate(_ASCII_LOWER)} ")


def _mteval_bleu(correct: list[int], total: list[int], sys_len: int, ref_len: int) -> float:
    """mteval-v13a's corpus BLEU from the n-gram statistics, with its default smoothing."""
    bp = math.exp(min(0.0, 1 - ref_len / sys_len)) if sys_len > 0 else 0.0
    log_sum, smooth = 0.0, 1
    for hits, n in zip(correct, total):
        if n == 0:
            continue  # an order the hypotheses do not have counts as precision 1
        if hits == 0:
            smooth *= 2
            log_sum += math.log(1 / (smooth * n))
        else:
            log_sum += math.log(hits / n)
    return math.exp(log_sum / BLEU_ORDER) * bp


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _nist(hyps: list[list[str]], refs: list[list[list[str]]]) -> float:
    """mteval-v13a NIST-5 (the E2E edition): information-weighted n-gram matches × length penalty."""
    # Information weights from n-gram counts over all references of the corpus.
    counts: Counter = Counter()
    total_words = 0
    for group in refs:
        for ref in group:
            total_words += len(ref)
            for n in range(1, NIST_ORDER + 1):
                counts.update(_ngrams(ref, n))

    def info(ngram: tuple) -> float:
        prefix = ngram[:-1]
        # Perl tests the prefix string for truth, so a prefix that is the single token "0" counts as none.
        denom = counts[prefix] if prefix and prefix != ("0",) else total_words
        return -math.log2(counts[ngram] / denom)

    hit_info = [0.0] * NIST_ORDER
    hyp_ngrams = [0] * NIST_ORDER
    ref_unigrams = n_refs = 0
    for hyp, group in zip(hyps, refs):
        n_refs += sum(1 for ref in group if ref)
        ref_unigrams += sum(len(ref) for ref in group)
        for n in range(1, NIST_ORDER + 1):
            hyp_ngrams[n - 1] += max(len(hyp) - n + 1, 0)
            ref_max: Counter = Counter()
            for ref in group:
                ref_max |= _ngrams(ref, n)
            for ngram, c in _ngrams(hyp, n).items():
                if ngram in ref_max:
                    hit_info[n - 1] += info(ngram) * min(c, ref_max[ngram])
    score = sum(h / max(t, 1) for h, t in zip(hit_info, hyp_ngrams))
    # Length penalty against the average reference length (total reference words / mean references per MR).
    ratio = hyp_ngrams[0] / (ref_unigrams / (n_refs / len(hyps)))
    if ratio >= 1:
        return score
    if ratio <= 0:
        return 0.0
    beta = -math.log(0.5) / math.log(1.5) ** 2
    return score * math.exp(-beta * math.log(ratio) ** 2)


def bleu_nist(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    """BLEU and NIST as the E2E script's mteval-v13a-sig.pl computes them."""
    check_lengths(predictions, references)
    hyps = [mteval_tokenize(p) for p in predictions]
    refs = [[mteval_tokenize(r) for r in group] for group in references]
    width = max(len(group) for group in refs)
    # sacrebleu takes reference *streams*; None pads the MRs that have fewer references.
    streams = [[group[i] if i < len(group) else None for group in refs] for i in range(width)]
    stats = sacrebleu.BLEU(tokenize="none", smooth_method="none").corpus_score(hyps, streams)
    bleu = _mteval_bleu(stats.counts, stats.totals, stats.sys_len, stats.ref_len)
    nist = _nist([h.split() for h in hyps], [[r.split() for r in group] for group in refs])
    return {"BLEU": bleu, "NIST": nist}


# ---------------------------------------------------------------------------------------------------- COCO


@contextlib.contextmanager
def _java_utf8():
    """The COCO tools run Java on temporary files and pipes; Java's default encoding follows the locale (ASCII
    on a bare CI machine), which would turn '£' and 'é' into '?'. Pin UTF-8 for the JVMs started in here."""
    if shutil.which("java") is None:
        raise RuntimeError("METEOR and the PTB tokeniser need Java: install a JRE (e.g. apt-get install -y "
                           "default-jre-headless)")
    old = os.environ.get("JAVA_TOOL_OPTIONS")
    os.environ["JAVA_TOOL_OPTIONS"] = "-Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Dstdout.encoding=UTF-8"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JAVA_TOOL_OPTIONS", None)
        else:
            os.environ["JAVA_TOOL_OPTIONS"] = old


def coco_scores(predictions: list[str], references: list[list[str]],
                metrics=("METEOR", "ROUGE_L", "CIDEr")) -> dict[str, float]:
    """METEOR 1.5, ROUGE-L and CIDEr(-D) as the E2E script's COCOEvalCap computes them (after PTB tokenisation)."""
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    check_lengths(predictions, references)
    ids = [f"inst-{i}" for i in range(len(predictions))]
    with _java_utf8():
        tok = PTBTokenizer()
        gts = tok.tokenize({i: [{"caption": r} for r in refs] for i, refs in zip(ids, references)})
        res = tok.tokenize({i: [{"caption": p}] for i, p in zip(ids, predictions)})
        scorers = {"METEOR": Meteor, "ROUGE_L": Rouge, "CIDEr": Cider}
        out = {}
        for name in metrics:
            scorer = scorers[name]()
            out[name] = float(scorer.compute_score(gts, res)[0])
            del scorer  # Meteor's JVM ends with its object
    return out


def e2e_scores(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    """The five numbers of the official E2E script (BLEU, NIST, METEOR, ROUGE_L, CIDEr), on its scale."""
    scores = bleu_nist(predictions, references) | coco_scores(predictions, references)
    return {m: scores[m] for m in E2E_METRICS}


def score_files(predictions: str | Path, references: str | Path) -> dict[str, float]:
    """`lora-bench score-e2e`: score a predictions file against an official-format references file."""
    preds, refs = read_predictions(predictions), read_references(references)
    check_lengths(preds, refs, where=f"{predictions} vs {references}: ")
    return e2e_scores(preds, refs)


# ---------------------------------------------------------------------------------------------------- WebNLG, DART


def webnlg_scores(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    """BLEU, METEOR and TER as the WebNLG-2020 evaluation (used by the paper for WebNLG and DART) reports them:
    BLEU as multi-bleu-detok (sacrebleu 13a; the paper lower-cases outputs and references first), METEOR 1.5 with
    ``-l en -norm`` over all references, TER in [0, 1] (sacrebleu's corpus TER, where the WebNLG script averages
    per-sentence pyter scores: lower is better in both)."""
    check_lengths(predictions, references)
    preds = [p.lower() for p in predictions]
    refs = [[r.lower() for r in group] for group in references]
    width = max(len(group) for group in refs)
    streams = [[group[i] if i < len(group) else None for group in refs] for i in range(width)]
    bleu = sacrebleu.BLEU(tokenize="13a").corpus_score(preds, streams).score
    ter = sacrebleu.TER().corpus_score(preds, streams).score / 100
    tokenized = [[_PUNCT_RULES(f" {r} ") for r in group] for group in refs]
    meteor = coco_meteor_raw([_PUNCT_RULES(f" {p} ") for p in preds], tokenized)
    return {"BLEU": bleu, "METEOR": meteor, "TER": ter}


def coco_meteor_raw(predictions: list[str], references: list[list[str]]) -> float:
    """METEOR 1.5 (-l en -norm) on already tokenised text, without the COCO tokeniser."""
    from pycocoevalcap.meteor.meteor import Meteor

    ids = [str(i) for i in range(len(predictions))]
    with _java_utf8():
        scorer = Meteor()
        score = scorer.compute_score(dict(zip(ids, references)), {i: [p] for i, p in zip(ids, predictions)})[0]
        del scorer
    return float(score)
