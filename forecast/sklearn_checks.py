"""scikit-learn's `check_estimator` checks that cannot apply to `Forecaster`, and why.

`Forecaster.fit` takes a DataFrame with a time axis (a time column or index, one column per
series, or a long `unique_id, ds, y` frame), and `predict` returns the next `horizon` rows after
each series' end, not one row per input row. Most generic checks build a numpy matrix X
[n_samples, n_features] with no time axis, which `fit` rejects with a `DataError`; these are
listed below. Where the property behind a check still makes sense on DataFrames, the test named
in the reason checks it there (tests/test_forecaster.py). All other checks run and pass:

    from sklearn.utils.estimator_checks import check_estimator
    check_estimator(Forecaster(), expected_failed_checks=NOT_APPLICABLE)
"""

_MATRIX = "feeds a numpy/scipy matrix without a time axis, which fit rejects (DataError)"


def _matrix(counterpart: str | None = None) -> str:
    return _MATRIX + (f"; on DataFrames see test_forecaster.py::{counterpart}" if counterpart
                      else "")


NOT_APPLICABLE: dict[str, str] = {
    "check_fit_score_takes_y": _matrix("test_pipeline_fits_and_predicts_like_the_estimator"),
    "check_estimators_overwrite_params": _matrix("test_fit_returns_self_and_keeps_params"),
    "check_dont_overwrite_parameters": _matrix("test_fit_returns_self_and_keeps_params"),
    "check_estimators_fit_returns_self": _matrix("test_fit_returns_self_and_keeps_params"),
    "check_fit_check_is_fitted": _matrix("test_fit_returns_self_and_keeps_params"),
    "check_fit_idempotent": _matrix("test_refit_with_the_same_seed_is_identical"),
    "check_dict_unchanged": _matrix("test_predict_leaves_the_estimator_unchanged"),
    "check_estimators_pickle": _matrix("test_pickle_round_trip_is_identical"),
    "check_pipeline_consistency": _matrix("test_pipeline_fits_and_predicts_like_the_estimator"),
    "check_estimators_nan_inf": _matrix("test_bad_frames_get_one_clear_error"),
    "check_estimators_empty_data_messages": _matrix("test_bad_frames_get_one_clear_error"),
    "check_dtype_object": _matrix("test_bad_frames_get_one_clear_error"),
    "check_complex_data": _matrix(),
    "check_fit2d_1sample": _matrix("test_bad_frames_get_one_clear_error"),
    "check_estimators_dtypes": _matrix("test_predict_accepts_other_numeric_dtypes"),
    "check_readonly_memmap_input": _matrix() + "; pandas 3 frames are read-only (copy-on-write) "
                                   "and every fit test uses them",
    "check_f_contiguous_array_estimator": _matrix(),
    "check_fit2d_1feature": _matrix(),
    "check_fit2d_predict1d": _matrix(),
    "check_positive_only_tag_during_fit": _matrix(),
    "check_n_features_in": _matrix() + "; n_features_in_ is not defined: the channels used are "
                           "named in schema_.columns (time and id columns are not features)",
    "check_n_features_in_after_fitting": _matrix() + "; see check_n_features_in",
    "check_estimator_sparse_tag": "sparse matrices have no time axis (DataError)",
    "check_estimator_sparse_array": "sparse matrices have no time axis (DataError)",
    "check_estimator_sparse_matrix": "sparse matrices have no time axis (DataError)",
    "check_array_api_input": "array-API arrays have no time axis; input is a DataFrame",
    "check_methods_sample_order_invariance": "predict returns the horizon after each series' "
        "last row, not one output per input row: rows are time order, so permuting them "
        "changes the forecast by design",
    "check_methods_subset_invariance": "predict returns the horizon after each series' last "
        "row, not one output per input row: a subset of rows is another history",
}
