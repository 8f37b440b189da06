"""
Tuning without labels: Pipeline and GridSearchCV
================================================

:meth:`DeepEntropyClustering.score <skdeepcluster.DeepEntropyClustering.score>`
is the mutual information between the input and the predicted cluster,
``H(mean σ) - mean H(σ)``, estimated on the data it is given. It needs no
labels, so :class:`~sklearn.model_selection.GridSearchCV` can tune the
estimator, inside a :class:`~sklearn.pipeline.Pipeline`, by cross-validation
on unlabelled data: each candidate is trained on two thirds of the points and
scored on the held-out third.

The score rewards confident predictions (low ``mean H(σ)``) spread evenly over
the clusters (high ``H(mean σ)``). It is bounded by ``ln n_clusters``, so it
compares settings at a fixed number of clusters; do not use it to choose
``n_clusters``.
"""

import warnings

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_accuracy

X, y = load_digits(return_X_y=True)

# A weak fairness weight can leave clusters empty; the estimator then warns
# with a ConvergenceWarning. The table below shows the effect instead.
warnings.filterwarnings("ignore", message="Only .* clusters are non-empty")

pipeline = make_pipeline(
    PCA(n_components=32, random_state=0),
    DeepEntropyClustering(n_clusters=10, max_iter=10, n_init=1, n_heads=1,
                          random_state=0),
)


# %%
# Two scores are computed on every held-out fold: the mutual information,
# which needs no labels and alone chooses the best candidate
# (``refit="MI"``), and, to check that choice, the accuracy against the true
# digits. Only the accuracy scorer reads ``y``; the pipeline ignores it. To
# tune truly unlabelled data, drop the accuracy scorer and call
# ``search.fit(X)``.
def mutual_information(estimator, X, y=None):
    return estimator.score(X)


def accuracy(estimator, X, y):
    return clustering_accuracy(y, estimator.predict(X))


search = GridSearchCV(
    pipeline,
    param_grid={"deepentropyclustering__fairness_weight": [0.1, 0.3, 1.0, 3.0]},
    scoring={"MI": mutual_information, "ACC": accuracy},
    refit="MI",
    cv=3,
)
search.fit(X, y)
print("chosen by MI:", search.best_params_)

cv = search.cv_results_
results = pd.DataFrame({
    "fairness_weight": cv["param_deepentropyclustering__fairness_weight"],
    "MI (held out)": cv["mean_test_MI"],
    "ACC (held out)": cv["mean_test_ACC"],
})
print(results.round(3).to_string(index=False))

# %%
# The refitted best pipeline, trained on all the data, clusters new points
# with ``predict``:
labels = search.predict(X)
print(f"ACC of the refitted pipeline: {clustering_accuracy(y, labels):.3f}")
