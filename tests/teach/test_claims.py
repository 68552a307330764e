"""The paper's claims: the comparisons among them, and the headline that reads their intervals."""
from aslib.teach import claims


def test_every_comparison_is_a_claim_of_the_method_minus_a_baseline():
    assert set(claims.COMPARISONS) <= set(claims.CLAIMS)
    assert all("minus" in claims.CLAIMS[cid][0] for cid in claims.COMPARISONS)


def test_the_headline_names_wins_ties_losses_and_the_strongest_baseline():
    def claim(cid, measured, ci):
        return {"id": cid, "measured": measured, "ci95": ci, "n": 10}

    text = claims.headline([claim("attack_gap_cifar10_allclass_xi10", 0.3, [0.2, 0.4]),
                            claim("attack_vs_sgd_uap_cifar10_allclass_xi10", -0.1, [-0.16, -0.03]),
                            claim("asnet_vs_pca_accuracy", 0.004, [-0.0002, 0.008]),
                            {"id": "attack_vs_sgd_uap_fmnist_allclass_xi10", "measured": None, "ci95": None,
                             "n": None}])
    assert "wins against UAP (CIFAR-10 all-class) (+0.300, n = 10)" in text
    assert "loses to SGD-UAP (CIFAR-10 all-class)" in text
    assert "cannot be told apart from the PCA-projection network" in text
    assert text.endswith("The strongest attack baseline here is SGD-UAP (CIFAR-10 all-class).")
    assert "Fashion-MNIST" not in text
    assert claims.headline([]) == "No comparison with a baseline was measured in this run."
