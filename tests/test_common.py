"""scikit-learn's estimator checks, on the estimators' default settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdeepcluster import DeepEntropyClustering, SoftLabelClassifier


@parametrize_with_checks(
    [DeepEntropyClustering(random_state=0), SoftLabelClassifier(random_state=0)]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
