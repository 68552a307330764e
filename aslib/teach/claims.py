"""The paper's claims that the kit measures, and the report's reading of the comparisons among them.

A notebook measures a claim and records it with :func:`aslib.teach.recording.record_claim` (``nb.claim``); the report
lists
every claim of :data:`CLAIMS` and opens with :func:`headline`, the verdicts of the "method minus baseline" claims
of :data:`COMPARISONS` read from their 95 % intervals.
"""
from __future__ import annotations

from typing import Any, Sequence

from aslib.contracts import contract

__all__ = ["CLAIMS", "COMPARISONS", "headline"]

CLAIMS: dict[str, tuple[str, str]] = {
    "attack_gap_cifar10_allclass_xi10": ("AS minus UAP test attack ratio, CIFAR-10 all-class, xi = 10",
                                         "about +0.20"),
    "attack_gap_cifar10_oneclass_xi10": ("AS minus UAP test attack ratio, CIFAR-10 one-class, xi = 10",
                                         "about +0.20"),
    "attack_gap_fmnist_allclass_xi10": ("AS minus UAP test attack ratio, Fashion-MNIST all-class, xi = 10",
                                        "about +0.20"),
    "attack_vs_sgd_uap_cifar10_allclass_xi10": ("AS minus SGD-UAP test attack ratio, CIFAR-10 all-class, xi = 10",
                                                "not in the paper (SGD-UAP is a later, stronger baseline)"),
    "attack_vs_sgd_uap_cifar10_oneclass_xi10": ("AS minus SGD-UAP test attack ratio, CIFAR-10 one-class, xi = 10",
                                                "not in the paper (SGD-UAP is a later, stronger baseline)"),
    "attack_vs_sgd_uap_fmnist_allclass_xi10": ("AS minus SGD-UAP test attack ratio, Fashion-MNIST all-class, xi = 10",
                                               "not in the paper (SGD-UAP is a later, stronger baseline)"),
    "attack_vs_random_cifar10_allclass_xi10": ("AS minus random test attack ratio, CIFAR-10 all-class, xi = 10",
                                               "far above (> 0)"),
    "attack_vs_checkerboard_cifar10_allclass_xi10": ("AS minus checkerboard (structured control of the same norm) "
                                                     "test attack ratio, CIFAR-10 all-class, xi = 10",
                                                     "not in the paper"),
    "sgd_uap_from_as_gain_xi10": ("SGD-UAP started from the AS vector minus SGD-UAP started from zero, test attack "
                                  "ratio, xi = 10 (paired over crafting sets)", "not in the paper"),
    "active_neurons_conv5": ("Active neurons at conv5 of the CIFAR-10 VGG-19-BN (delta = 0.95)",
                             "several dozens (of thousands of neurons)"),
    "active_neurons_conv5_growth": ("Factor by which the exact active-neuron count at conv5 of the CIFAR-10 "
                                    "VGG-19-BN grows when the images double (1 = stopped growing)",
                                    "not in the paper (it gives one count)"),
    "asnet_params_reduction": ("ASNet nonzero-parameter reduction, VGG-19-BN CIFAR-10", "23.98x"),
    "asnet_macs_reduction": ("ASNet MAC reduction, VGG-19-BN CIFAR-10", "7.30x"),
    "asnet_accuracy_drop": ("Original minus ASNet test accuracy (fraction), VGG-19-BN CIFAR-10", "small"),
    "asnet_vs_pca_accuracy": ("ASNet minus PCA-projection network test accuracy (fraction), equal budget and "
                              "validation split, VGG-19-BN CIFAR-10", "not in the paper"),
    "asnet_vs_magnitude_pruning_accuracy": ("ASNet minus magnitude-pruned VGG test accuracy (fraction), equal budget "
                                            "and validation split, VGG-19-BN CIFAR-10", "not in the paper"),
    "asnet_vs_channel_pruning_params_accuracy": ("ASNet minus channel-pruned VGG (Torch-Pruning, same parameters) "
                                                 "test accuracy (fraction), equal budget and validation split, "
                                                 "VGG-19-BN CIFAR-10", "not in the paper"),
    "asnet_vs_channel_pruning_macs_accuracy": ("ASNet minus channel-pruned VGG (Torch-Pruning, same MACs) test "
                                               "accuracy (fraction), equal budget and validation split, VGG-19-BN "
                                               "CIFAR-10", "not in the paper"),
    "asnet_paper_point_params_reduction": ("Nonzero-parameter reduction of the ASNet made to the paper's point (sparse "
                                           "pre-model, 14 epochs, validation split), VGG-19-BN width 1/4 CIFAR-10",
                                           "23.98x"),
    "asnet_paper_point_macs_reduction": ("Sparse-MAC reduction of the same ASNet, VGG-19-BN width 1/4 CIFAR-10",
                                         "7.30x"),
    "asnet_paper_point_accuracy_drop": ("Original minus the same ASNet test accuracy (fraction), VGG-19-BN width 1/4 "
                                        "CIFAR-10", "not in the abstract"),
    "asnet_vs_magnitude_pruning_paper_point_accuracy": ("The same ASNet minus the VGG magnitude-pruned to its nonzero "
                                                        "parameters (23.98x), test accuracy (fraction), equal budget "
                                                        "and validation split", "not in the paper"),
    "pretrained_accuracy_vgg": ("Test accuracy of the pretrained CIFAR-10 VGG-19-BN (fraction)", "0.9334"),
    "as_solver_gap_cifar10_allclass_xi10": ("AS with the exact minus the authors' one-step dominant direction, "
                                            "test attack ratio, CIFAR-10 all-class, xi = 10",
                                            "not claimed (the authors' code uses the one-step direction)"),
}
"""The paper's claims the kit measures: id -> (what is measured, the paper's value)."""


COMPARISONS: dict[str, str] = {
    "attack_gap_cifar10_allclass_xi10": "UAP (CIFAR-10 all-class)",
    "attack_gap_cifar10_oneclass_xi10": "UAP (CIFAR-10 one-class)",
    "attack_gap_fmnist_allclass_xi10": "UAP (Fashion-MNIST all-class)",
    "attack_vs_sgd_uap_cifar10_allclass_xi10": "SGD-UAP (CIFAR-10 all-class)",
    "attack_vs_sgd_uap_cifar10_oneclass_xi10": "SGD-UAP (CIFAR-10 one-class)",
    "attack_vs_sgd_uap_fmnist_allclass_xi10": "SGD-UAP (Fashion-MNIST all-class)",
    "attack_vs_random_cifar10_allclass_xi10": "random noise (CIFAR-10 all-class)",
    "attack_vs_checkerboard_cifar10_allclass_xi10": "a checkerboard of the same norm (CIFAR-10 all-class)",
    "asnet_vs_pca_accuracy": "the PCA-projection network (accuracy)",
    "asnet_vs_magnitude_pruning_accuracy": "the magnitude-pruned VGG (accuracy)",
    "asnet_vs_channel_pruning_params_accuracy": "the channel-pruned VGG at the same parameters (accuracy)",
    "asnet_vs_channel_pruning_macs_accuracy": "the channel-pruned VGG at the same MACs (accuracy)",
    "asnet_vs_magnitude_pruning_paper_point_accuracy": "the magnitude-pruned VGG at the paper's 23.98x (accuracy)",
}
"""The claims that are "the method minus a baseline" (id -> the baseline), read by :func:`headline`."""


@contract
def headline(claims: Sequence[dict[str, Any]]) -> str:
    """The report's opening paragraph, from the measured comparisons of :data:`COMPARISONS`: where the method
    wins, where its interval cannot tell it from the baseline, where it loses, and the strongest attack baseline
    (the one with the smallest AS-minus-baseline difference)."""
    measured = [c for c in claims if c["id"] in COMPARISONS and c["measured"] is not None]
    if not measured:
        return "No comparison with a baseline was measured in this run."
    verdicts: dict[str, list[str]] = {"wins against": [], "cannot be told apart from": [], "loses to": []}
    for c in measured:
        low, high = c["ci95"] or (c["measured"], c["measured"])
        kind = "wins against" if low > 0 else "loses to" if high < 0 else "cannot be told apart from"
        verdicts[kind].append(f"{COMPARISONS[c['id']]} ({c['measured']:+.3f}, n = {c['n']})")
    parts = [f"it {kind} {', '.join(items)}" for kind, items in verdicts.items() if items]
    attacks = [c for c in measured if c["id"].startswith("attack_")]
    strongest = min(attacks, key=lambda c: c["measured"]) if attacks else None
    text = "Against its baselines (95 % intervals of the paired differences below): " + "; ".join(parts) + "."
    if strongest is not None:
        text += f" The strongest attack baseline here is {COMPARISONS[strongest['id']]}."
    return text
