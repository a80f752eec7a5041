"""Classification metrics from true and predicted labels."""
import numpy as np

from data_tools.labels import EMOTIONS


def confusion_matrix(y_true, y_pred, num_classes=len(EMOTIONS)):
    """(K, K) int matrix: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(matrix, class_names=EMOTIONS):
    """Accuracy and per-class precision / recall / F1 / support from a confusion matrix.

    A class never predicted has precision 0 (and one never present, recall 0), rather than NaN.
    """
    matrix = np.asarray(matrix)
    true_positives = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(both), where=both > 0)
    total = matrix.sum()
    return {
        "accuracy": float(true_positives.sum() / total) if total else 0.0,
        "num_samples": int(total),
        "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for name, p, r, f, s in zip(class_names, precision, recall, f1, support)},
        "macro_f1": float(f1.mean()),
        "confusion_matrix": matrix.tolist(),
        "classes": list(class_names),
    }


def format_report(report):
    """The report as a text table, then the confusion matrix."""
    names = report["classes"]
    width = max(len(n) for n in names) + 2
    lines = [f"accuracy {report['accuracy']:.4f} on {report['num_samples']} images   macro F1 {report['macro_f1']:.4f}",
             "",
             f"{'class':<{width}}precision  recall     f1  support"]
    for name in names:
        row = report["per_class"][name]
        lines.append(f"{name:<{width}}{row['precision']:9.3f}{row['recall']:8.3f}{row['f1']:7.3f}{row['support']:9d}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted)",
              " " * width + "".join(f"{n[:7]:>8}" for n in names)]
    for name, row in zip(names, report["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:8d}" for v in row))
    return "\n".join(lines)
