"""The summary's outlier flags, judged within each object and filter."""

from skyrms.steps.summary import flag_outliers, robust_outliers


def test_robust_outliers_flag_only_values_far_from_their_group():
    assert robust_outliers([1.0, 1.01, 0.99, 1.0, 1.5]) == [False] * 4 + [True]
    assert robust_outliers([1.0, 1.5]) == [False, False]  # too few to judge
    assert robust_outliers([0.3, 0.3, 0.3, 0.302]) == [False] * 4  # identical is not an outlier


def test_outliers_are_judged_within_object_and_filter():
    ratios = [("A", 1.0), ("A", 1.01), ("A", 0.99), ("B", 1.5), ("B", 1.52), ("B", 1.49)]
    rows = [{"object": o, "filter": "r", "ratio": r, "masked_fraction": 0.2} for o, r in ratios]
    rows.append({"object": "A", "filter": "r", "ratio": 1.5, "masked_fraction": 0.9})
    flag_outliers(rows)
    assert [row["flags"] for row in rows] == [""] * 6 + ["ratio_outlier,masked_fraction_outlier"]
