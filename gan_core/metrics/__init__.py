"""Sample-quality metrics, in three parts:

* :mod:`.scores`: FID, KID, IS, diversity and :class:`Score` (pure maths over features);
* :mod:`.evaluate`: judging a generator (tag accuracy, confidence, :func:`evaluate_generator`);
* :mod:`.paired`: judging an image-to-image (pix2pix) generator on held-out pairs (L1, FID);
* :mod:`.listener`: the job side (:class:`ModeCollapseMonitor`, :class:`MetricsListener`,
  :func:`install_default_listeners`, :func:`load_eval_metrics`).

Every result states its sample sizes and features. A "metrics" row's fields are listed in
:func:`evaluate_generator`; how each is named and read is :data:`METRICS`.
"""
from gan_core.metrics.classifiers import ClassifierUnavailable, FeatureExtractor, load_classifier
from gan_core.metrics.evaluate import (JUDGED_KEYS, PRDC_K, RealReference, accuracy_on, classifier_confidence, classifier_reference,
                       evaluate_generator, judged_fields, label_confidence, real_reference, tag_accuracy)
from gan_core.metrics.listener import (EVAL_FILE, EXTRA_KEYS, MetricsListener, ModeCollapseMonitor, install_default_listeners,
                       load_eval_metrics)
from gan_core.metrics.paired import (PairedReference, edge_f1, edge_faithfulness, evaluate_translator, paired_reference,
                     tag_faithfulness)
from gan_core.metrics.scores import (METRICS, MetricInfo, MetricsUnavailable, Score, compute_fid, compute_is, compute_kid, diversity,
                     diversity_within, feature_statistics, fid_from_features, frechet_distance, get_extractor,
                     inception_extractor, inception_score_from_logits, kid_from_features, pixel_features)

__all__ = [
    "ClassifierUnavailable", "FeatureExtractor", "load_classifier", "JUDGED_KEYS", "PRDC_K", "RealReference",
    "accuracy_on", "classifier_confidence", "classifier_reference", "evaluate_generator", "judged_fields",
    "label_confidence", "real_reference", "tag_accuracy", "EVAL_FILE", "EXTRA_KEYS", "MetricsListener",
    "ModeCollapseMonitor", "install_default_listeners", "load_eval_metrics", "METRICS", "MetricInfo",
    "MetricsUnavailable", "Score", "compute_fid", "compute_is", "compute_kid", "diversity", "diversity_within",
    "feature_statistics", "fid_from_features", "frechet_distance", "get_extractor", "inception_extractor",
    "inception_score_from_logits", "kid_from_features", "pixel_features", "PairedReference", "evaluate_translator",
    "paired_reference", "edge_f1", "edge_faithfulness", "tag_faithfulness",
]
