"""Static features: one value per series (a store's region, a sensor's type, a plant's
capacity), encoded as numbers that every step of the series' windows carries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.data.checks import RowNames
from forecast.errors import DataError


class StaticEncoder:
    """Encodes a table of static features (one row per series) as float32 columns.

    A numeric column is standardised over the series it was fitted on; any other column (text,
    categories, booleans) is one-hot encoded over the categories seen in `fit`. A category new
    at `transform` (a store in a region the model never saw) gets zeros in every one-hot column,
    as scikit-learn's `OneHotEncoder(handle_unknown="ignore")`.

    Example:
        >>> table = pd.DataFrame({"region": ["north", "south", "north"], "size": [1.0, 2.0, 3.0]})
        >>> encoder = StaticEncoder().fit(table)
        >>> encoder.names
        ['region=north', 'region=south', 'size']
        >>> [round(float(v), 3) for v in encoder.transform(table.iloc[:1])[0]]
        [1.0, 0.0, -1.225]
    """

    def __init__(self, columns: dict[str, dict] | None = None):
        self.columns = columns or {}  # name -> {"categories": [...]} or {"center", "scale"}

    def fit(self, table: pd.DataFrame) -> StaticEncoder:
        self.columns = {}
        for name in table.columns:
            column = table[name]
            if _is_number(column):
                values = column.to_numpy(dtype=np.float64)
                scale = float(values.std())
                self.columns[str(name)] = {"center": float(values.mean()),
                                           "scale": scale if scale > 1e-12 else 1.0}
            else:
                categories = sorted({str(value) for value in column})
                self.columns[str(name)] = {"categories": categories}
        return self

    @property
    def names(self) -> list[str]:
        """The encoded columns: `name=category` for each category, `name` for a number."""
        return [f"{name}={category}" if "categories" in how else name
                for name, how in self.columns.items()
                for category in how.get("categories", [None])]

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """[S, len(names)] float32 encoding of `table` (one row per series)."""
        blocks = []
        for name, how in self.columns.items():
            column = table[name]
            if "categories" in how:
                codes = pd.Index(how["categories"]).get_indexer(column.astype(str))  # -1: new
                onehot = np.zeros((len(column), len(how["categories"])), dtype=np.float32)
                known = codes >= 0
                onehot[np.flatnonzero(known), codes[known]] = 1.0
                blocks.append(onehot)
            else:
                values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
                if not np.isfinite(values).all():
                    at = int(np.argmin(np.isfinite(values)))
                    raise DataError(f"data: static feature '{name}' was a number in training, "
                                    f"but series '{table.index[at]}' has {column.iloc[at]!r}; "
                                    "pass numbers.")
                blocks.append(((values - how["center"]) / how["scale"])[:, None])
        if not blocks:
            return np.zeros((len(table), 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def state_dict(self) -> dict:
        return {"columns": self.columns}

    @classmethod
    def from_state_dict(cls, state: dict) -> StaticEncoder:
        return cls(state["columns"])


def static_table(frame: pd.DataFrame, names: list, rows: RowNames) -> pd.DataFrame:
    """The static features `names` of a long frame, one row per series (indexed by series id),
    after checking that each holds one value per series and no missing one."""
    order, bounds = rows.order, rows.bounds
    series = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))  # [N] series of each row
    table = {}
    for name in names:
        column = frame[name]
        values = column.to_numpy() if order is None else column.to_numpy()[order]
        missing = pd.isna(values)
        if _is_number(column):
            missing |= ~np.isfinite(values.astype(np.float64))
        if missing.any():
            k = int(np.argmax(missing))
            raise DataError(f"data{rows.where(k)}: static feature '{name}' has no value (or an "
                            f"infinite one) at row {rows.row(k)}; give every row its series' "
                            "value.")
        first = values[bounds[:-1]]  # [S] each series' value
        changed = values != first[series]
        if changed.any():
            k = int(np.argmax(changed))
            raise DataError(f"data{rows.where(k)}: static feature '{name}' changes within the "
                            f"series: {_plain(values[k])!r} at row {rows.row(k)} "
                            f"({rows.time(k)}), {_plain(first[series[k]])!r} before. A static "
                            "feature holds one value per series; use data.features (past inputs) "
                            "or data.future_features for values that change over time.")
        table[name] = pd.array(first, dtype=column.dtype)
    return pd.DataFrame(table, index=pd.Index(rows.series_ids, name="series"))


def _plain(value):
    """A numpy scalar as the Python value it holds (for messages: 10.0, not np.float64(10.0))."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
