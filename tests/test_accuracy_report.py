"""The accuracy report's verdicts weigh MSE and MAE, each against its own best baseline."""

import pandas as pd

from experiments.accuracy_report import _verdict


def rows(neural: tuple[float, float], *baselines: tuple[str, float, float]) -> pd.DataFrame:
    table = [("segrnn", "neural", *neural)] + [(name, "baseline", mse, mae)
                                              for name, mse, mae in baselines]
    return pd.DataFrame(table, columns=["model", "family", "mse", "mae"])


def test_a_model_ahead_on_mse_only_is_not_said_to_beat_the_baselines():
    table = rows((0.364, 0.395), ("ridge", 0.383, 0.3917), ("knn", 0.436, 0.380))
    assert _verdict(table, goal=0.368) == ("beats the best baseline on MSE, **does not beat** it "
                                           "on MAE (knn mae 0.3800); meets the goal")


def test_ties_within_half_a_percent_and_a_goal_at_the_baselines_error():
    table = rows((0.08115, 0.1967), ("repeat_last", 0.08113, 0.1964))
    assert _verdict(table, goal=0.0811) == (
        "**ties** the best baseline on MSE and MAE (repeat_last mse 0.0811, repeat_last mae "
        "0.1964); **misses the goal** 0.0811")
    assert _verdict(rows((0.28, 0.33), ("ridge", 0.29, 0.34)), goal=None) == (
        "beats the best baseline on MSE and MAE")
