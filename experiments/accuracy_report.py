"""The settings of `benchmark.py`, the published numbers beside them, and the Markdown report."""

from __future__ import annotations

import datetime
import os
import platform
import re

import pandas as pd

# One setting = one conf/experiment preset; "models" maps a row name to extra Hydra overrides
# (the first is the preset itself). "published": (source, MSE, MAE) on the same protocol, or
# (source, sMAPE, MASE, OWA) for M4. "gpu": too long for 2 CPU cores; run by
# experiments/gpu/accuracy.sh. "goal": the MSE the issue asks the best recurrent model to beat.
SETTINGS: dict[str, dict] = {
    "etth1_m96": {
        "preset": "etth1_m96", "dataset": "ETTh1", "protocol": "M (7 channels), L=96, H=96",
        "models": {"segrnn": []}, "goal": 0.368,
        "published": [("SegRNN, L=96, MSE loss (SegRNN README, drop_last fixed)", 0.368, 0.395),
                      ("iTransformer (its paper)", 0.386, 0.405),
                      ("DLinear (iTransformer's table)", 0.386, 0.400),
                      ("repeat-last (data README; DLinear paper 1.295)", 1.294, 0.713)]},
    "etth1_m96_gpu": {
        "preset": "etth1_m96", "dataset": "ETTh1", "gpu": True, "goal": 0.368, "seeds": 3,
        "protocol": "M (7 channels), L=96, H=96, SegRNN's size (d=512, dropout 0.5)",
        "models": {"segrnn_d512": ["model.hidden_size=512", "model.dropout=0.5",
                                   "optim.optimizer.lr=0.001",
                                   "callbacks.early_stopping.patience=10"]},
        "published": [("SegRNN, L=96, MSE loss (SegRNN README, drop_last fixed)", 0.368, 0.395),
                      ("DLinear (iTransformer's table)", 0.386, 0.400)]},
    "etth1_m720": {
        "preset": "etth1_m720", "dataset": "ETTh1", "protocol": "M (7 channels), L=720, H=96",
        "models": {"segrnn": []}, "goal": 0.351, "gpu": True, "seeds": 3,
        "published": [("SegRNN, L=720 (SegRNN paper)", 0.341, None),
                      ("OLS Linear, L=336 (data README)", 0.370, 0.392)]},
    "etth1_s336": {
        "preset": "etth1_s336", "dataset": "ETTh1", "protocol": "S (OT only), L=336, H=96",
        "models": {"segrnn": []}, "goal": 0.053, "seeds": 3,
        "published": [("NLinear (DLinear paper)", 0.053, None)]},
    "etth2_m96": {
        "preset": "etth2_m96", "dataset": "ETTh2", "protocol": "M (7 channels), L=96, H=96",
        "models": {"segrnn": []},
        "published": [("SegRNN, L=96 (SegRNN README)", 0.278, 0.335),
                      ("iTransformer (its paper)", 0.297, 0.349),
                      ("DLinear (iTransformer's table)", 0.333, 0.387)]},
    "exchange96": {
        "preset": "exchange96", "dataset": "exchange_rate", "protocol": "M (8 series), L=96, H=96",
        "models": {"segrnn": []}, "goal": 0.0811, "seeds": 3,
        "published": [("repeat-last (data README)", 0.081, 0.196)]},
    "ili24": {
        "preset": "ili24", "dataset": "national_illness", "protocol": "M (7 series), L=104, H=24",
        "models": {"segrnn": []}, "published": []},
    "m4_hourly": {
        "preset": "m4_hourly", "dataset": "M4 Hourly", "m4": True,
        "protocol": "414 series, L=336, H=48, sMAPE/MASE/OWA in original units",
        "models": {"segrnn": []},
        "published": [("Doornik et al. (best Hourly OWA)", 8.913, 0.801, 0.410),
                      ("Smyl ES-RNN (M4 winner)", 9.328, 0.893, 0.440),
                      ("seasonal naive", 13.912, 1.193, 0.627),
                      ("M4 benchmark RNN", 14.698, 3.048, 1.036),
                      ("Naive2", 18.383, 2.395, 1.000)]},
    "airline": {
        "preset": "airline", "dataset": "airline (classic)",
        "protocol": "monthly, L=24, H=12, last 36 months test", "models": {"segrnn": []},
        "seeds": 3, "published": []},
    "co2": {
        "preset": "co2", "dataset": "Mauna Loa CO2 (classic)",
        "protocol": "weekly, L=104, H=52, 70/10/20", "models": {"segrnn": []}, "published": []},
}


def machine(accelerator: str) -> dict[str, str]:
    """Where the numbers come from (a column of every row)."""
    import pytorch_lightning as pl
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    device = (torch.cuda.get_device_name(0) if accelerator == "gpu" and torch.cuda.is_available()
              else f"{cpu}, {os.cpu_count()} cores")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"machine": device, "load_1min": round(load, 1), "torch": torch.__version__,
            "lightning": pl.__version__, "date": datetime.date.today().isoformat()}


def _lines(path: str) -> list[str]:
    try:
        with open(path) as handle:
            return handle.readlines()
    except OSError:
        return []


def write_report(table: pd.DataFrame) -> str:
    """accuracy.md from all rows of accuracy.csv."""
    parts = [HEADER, _summary(table)]
    for name, rows in table.groupby("setting", sort=False):
        parts.append(_section(name, rows))
    return "\n".join(parts)


HEADER = """# Accuracy: recurrent forecasters vs. the scikit-learn baselines

Written by `experiments/benchmark.py`; do not edit by hand. Standard protocol: chronological
split (ETT borders 8640/11520/14400; airline: the last 36 months test, the 24 before them
validation; M4 hourly: the competition's 48-step hold-out test, the last 48 training steps
validation; TSLib's 70/10/20 elsewhere), StandardScaler fitted on the
training rows only, **MSE/MAE on the normalised scale averaged over every test window** (stride
1, no window dropped), horizon step and channel. The recurrent model keeps the weights of its
best validation epoch; the baselines (`conf/baselines/default.yaml`) are fitted on the same
training windows and scored on the same test windows by the same code. Published figures come
from the dataset READMEs in `shared/data` and the papers named; several were measured with the
`drop_last` bug (last test batch dropped), so differences of ~0.005 are within protocol noise.
`fit_s` is wall time of the whole fit on the machine named in the setting's row.
"""


def _summary(table: pd.DataFrame) -> str:
    lines = ["## Summary", "",
             "| setting | protocol | best recurrent | error | best baseline | error | goal (MSE) "
             "| verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rows in table.groupby("setting", sort=False):
        neural, base = _best(rows, "neural"), _best(rows, "baseline")
        goal = SETTINGS.get(name, {}).get("goal")
        lines.append(f"| {name} | {rows.protocol.iloc[0]} | {neural.model} | "
                     f"{_errors(rows, neural)} | {base.model} | {_baseline_errors(rows, base)} | "
                     f"{'' if goal is None else f'< {goal}'} | {_verdict(rows, goal)} |")
    return "\n".join(lines) + "\n"


TIE = 0.005  # relative difference under which neither wins


def _rank_key(rows: pd.DataFrame) -> str:
    """What a setting's models are ranked by: M4's OWA, else the MSE."""
    return "owa" if "owa" in rows and rows.owa.notna().all() else "mse"


def _best(rows: pd.DataFrame, family: str) -> pd.Series:
    return _best_by(rows, family, _rank_key(rows))


def _errors(rows: pd.DataFrame, row: pd.Series) -> str:
    return ", ".join(f"{key} {row[key]:.4f}" for key in _verdict_keys(rows))


def _baseline_errors(rows: pd.DataFrame, base: pd.Series) -> str:
    """Each error of the best baseline by that error (named where it is not `base`)."""
    cells = []
    for key in _verdict_keys(rows):
        best = _best_by(rows, "baseline", key)
        other = "" if best.model == base.model else f" ({best.model})"
        cells.append(f"{key} {best[key]:.4f}{other}")
    return ", ".join(cells)


def _best_by(rows: pd.DataFrame, family: str, key: str) -> pd.Series:
    return rows[rows.family == family].sort_values(key).iloc[0]


def _verdict_keys(rows: pd.DataFrame) -> tuple[str, ...]:
    """What a verdict weighs: M4's OWA, else MSE and MAE, which the literature reports together
    (a model ahead on MSE alone may trail on MAE)."""
    return ("owa",) if _rank_key(rows) == "owa" else ("mse", "mae")


def _verdict(rows: pd.DataFrame, goal: float | None) -> str:
    """The best recurrent model against the best baseline of each error (within `TIE`
    relative: a tie); the goal is on MSE."""
    neural = _best(rows, "neural")
    outcomes = {}
    for key in _verdict_keys(rows):
        base = _best_by(rows, "baseline", key)
        # Within 0.5% is a tie: seeds alone move the error that much (exchange: +-0.0001).
        tie = abs(neural[key] - base[key]) <= TIE * base[key]
        outcome = "ties" if tie else "beats" if neural[key] < base[key] else "does not beat"
        outcomes[key] = (outcome, base)
    parts = []
    for outcome in ("beats", "ties", "does not beat"):
        keys = [key for key, (said, _) in outcomes.items() if said == outcome]
        if not keys:
            continue
        part = (f"{outcome if outcome == 'beats' else f'**{outcome}**'} "
                f"{'it' if parts else 'the best baseline'}")
        if len(outcomes) > 1:
            part += f" on {' and '.join(key.upper() for key in keys)}"
        if outcome != "beats":
            part += " (" + ", ".join(f"{outcomes[key][1].model} {key} "
                                     f"{outcomes[key][1][key]:.4f}" for key in keys) + ")"
        parts.append(part)
    text = ", ".join(parts)
    if goal is not None:
        # A goal at the baseline's own error (exchange: beat repeat-last) is not met by a tie.
        mse_outcome, mse_base = outcomes.get("mse", ("", None))
        met = neural.mse < goal and not (mse_outcome == "ties"
                                         and goal <= mse_base.mse * (1 + TIE))
        text += "; meets the goal" if met else f"; **misses the goal** {goal}"
    return text


def _section(name: str, rows: pd.DataFrame) -> str:
    setting, first = SETTINGS.get(name, {}), rows.iloc[0]
    m4 = _rank_key(rows) == "owa"
    metrics = ["smape", "mase", "owa", "mse", "mae"] if m4 else ["mse", "mae"]
    command = first.get("command")
    if not isinstance(command, str):  # rows written before benchmark.py recorded its command
        command = (f"PYTHONPATH=. python experiments/benchmark.py --only {name}"
                   if not setting.get("gpu") else
                   "bash experiments/gpu/accuracy.sh DATA_DIR   # on a GPU; see experiments/gpu/")
    where = (f"{first.machine}, {first.get('threads', '?')} torch thread(s); torch {first.torch}, "
             f"Lightning {first.lightning}; {first.date}; 1-min load average {first.load_1min} "
             "at the start" + (" (shared machine: timings under load)" if _loaded(first) else ""))
    out = [f"## {name}: {first.dataset}, {first.protocol}", "", f"`{command}`  ", where + ".", "",
           "| model | family | " + " | ".join(metrics) + " | fit_s | epochs |",
           "|---|---|" + "---|" * (len(metrics) + 2)]
    key = "owa" if m4 else "mse"
    for row in rows.sort_values(key).itertuples():
        values = " | ".join(f"{getattr(row, m):.4f}" for m in metrics)
        epochs = "" if pd.isna(getattr(row, "epochs", float("nan"))) else int(row.epochs)
        out.append(f"| {row.model} | {row.family} | {values} | {row.fit_s:.1f} | {epochs} |")
    for source, *numbers in setting.get("published", []):
        known = dict(zip(["smape", "mase", "owa"] if m4 else ["mse", "mae"], numbers, strict=True))
        values = " | ".join(_number(known.get(m, "")) for m in metrics)
        out.append(f"| *{source}* | published | {values} | | |")
    if "note" in rows:
        notes = [f"- {r.model}: {r.note}" for r in rows.itertuples() if isinstance(r.note, str)]
        out += [""] + notes
    verdict = _verdict(rows, setting.get("goal"))
    out += ["", f"Best recurrent: {_best(rows, 'neural').model}; it {verdict}.", ""]
    return "\n".join(out)


def _number(value) -> str:
    return "—" if value is None else value if isinstance(value, str) else f"{value:.3f}"


def _loaded(row: pd.Series) -> bool:
    """Whether the machine the row was measured on (e.g. "AMD EPYC, 2 cores") was busy."""
    found = re.search(r"(\d+) cores", str(row.machine))
    return bool(found) and float(row.load_1min) > 0.5 * int(found.group(1))
