"""scikit-learn's estimator checks over every head."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ltsk.heads import CRTHead, LogitAdjustedHead, LWSHead, NCMHead, TauNormHead

# Checks a head cannot pass, with the reason: none so far.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}

HEADS = [CRTHead(), NCMHead(), TauNormHead(), LWSHead(), LogitAdjustedHead()]


@parametrize_with_checks(
    HEADS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
        type(est).__name__, {}
    ),
)
def test_sklearn_compatible_head(estimator, check):
    check(estimator)
