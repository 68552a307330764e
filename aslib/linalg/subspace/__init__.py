"""Active subspace estimation from gradient samples.

For a scalar function ``c`` of a layer activation ``x_l`` (``n`` neurons) and gradient samples
``g_j = grad c(x_l^(j))`` stacked as rows of ``G`` ``(m, n)``, the active subspace matrix is
``C = G^T G / m = V diag(lambda) V^T``. :class:`ActiveSubspace` estimates ``lambda`` and ``V`` by

* ``"exact"``: SVD of the stored gradient matrix (``lambda_i = sigma_i^2 / m``);
* ``"randomized"``: ``torch.svd_lowrank`` of the stored matrix, with oversampling and power iterations;
* ``"frequent_directions"``: a streaming sketch ``B`` ``(2l, n)`` kept on the gradients' device
  (Liberty 2013; Ghashami et al. 2016) with ``||G^T G - B^T B||_2 <= ||G - G_k||_F^2 / (l - k)``
  for every ``k < l``. Rows arrive in batches (:meth:`ActiveSubspace.partial_fit`), none is dropped,
  and two sketches merge (:meth:`ActiveSubspace.merge`) within the same bound;
* ``"gram"``: the exact ``G^T G`` ``(n, n)`` accumulated in float64 as rows arrive (memory ``n^2``
  whatever ``m``), for narrow layers;
* ``"auto"``: whichever of the two streaming estimators costs fewer multiply-adds per gradient row
  (:func:`streaming_method`): the Gram matrix (``n^2``) when ``n <= (2 + sqrt(40)) l``, else the sketch
  (``4 l n`` for its products plus ``36 l^2`` for its ``2l x 2l`` eigenproblems).

Number of active neurons (Definition 3.1). With ``E_r = sum_{i<=r} lambda_i / trace(C)``:

* ``convention="code"`` (default, the authors' code): the smallest ``r`` with ``E_r > delta^2``
  (``delta = 0.95`` -> more than 90.25 % of the gradient energy);
* ``convention="paper"``: the smallest ``r`` with tail ``1 - E_r <= 1 - delta`` (95 % of the energy).

``trace(C)`` is the exact mean squared gradient norm, tracked for every method. The authors'
function returns a 0-based index (``r - 1``) computed on the sketch's own singular values only;
:func:`n_active_authors` reproduces that count for comparison.

The estimator's front class lives in :mod:`aslib.linalg.subspace.estimator`, what one reads from a fitted one beyond
its spectrum (active variables, leading directions, bootstrap, summary) in :mod:`aslib.linalg.subspace.readings`, its
three
stores (stored rows, the Frequent Directions sketch, the Gram matrix) in :mod:`aslib.linalg.subspace.storage`, the
shared
solvers and counts in :mod:`aslib.linalg.subspace.solvers`, the several-layer pass in :mod:`aslib.nets.layer_analysis`.
"""
from aslib.linalg.subspace.estimator import METHODS, ActiveSubspace, Method
from aslib.linalg.subspace.readings import active_variables, bootstrap, leading_directions, n_active_authors, summary
from aslib.linalg.subspace.solvers import (SOLVERS, Solver, count_active, relative_energy, streaming_method,
    subspace_distance, top_directions)

__all__ = ["ActiveSubspace", "LayerAnalysis", "METHODS", "Method", "SOLVERS", "Solver", "active_variables", "bootstrap",
           "count_active", "fit_layers", "layer_subspaces", "leading_directions", "n_active_authors", "relative_energy",
           "streaming_method", "subspace_distance", "summary", "top_directions"]
