"""scikit-learn's estimator checks, on test-sized instances.

One restart of at most 20 epochs into 3 clusters for the clusterer and a
fixed 50 epochs for the classifier keep the checks fast; they test the API
contract, not quality (the quality floors are in the tests marked ``slow``).
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdeepcluster import DeepEntropyClustering, SoftLabelClassifier


@parametrize_with_checks([
    DeepEntropyClustering(3, n_init=1, max_iter=20, random_state=0),
    SoftLabelClassifier(max_iter=50, n_iter_no_change=0, random_state=0),
])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
