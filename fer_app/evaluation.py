"""A model's loss, accuracy and confusion matrix on labelled faces, as the app classifies them.

Training measures every epoch with it, fer_app.evaluate and fer_app.ship report it; it
needs nothing of the recognition pipeline (detection, video), so training does not load that.
"""
import numpy as np
from tqdm import tqdm

from data_tools.preprocess import normalize
from fer_app.metrics import confusion_matrix
from fer_app.predict import face_probabilities


def evaluate_split(model, images, labels, mirror=False, batch_size=256, progress=False):
    """Mean loss, accuracy and confusion matrix of a model on uint8 faces (N, 48, 48).

    mirror: average each face's probabilities with its mirror image's, as the app does
    by default (see fer_app.predict). The loss is the cross-entropy of the probabilities used.
    """
    loss_sum, predictions = 0.0, []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="evaluating", unit="batch", disable=not progress):
        probabilities = face_probabilities(model, normalize(images[start:start + batch_size]), mirror)
        truth = labels[start:start + batch_size]
        picked = probabilities[np.arange(len(truth)), truth]
        loss_sum += float(-np.log(np.maximum(picked, np.finfo(np.float32).tiny)).sum())
        predictions.append(probabilities.argmax(axis=1))
    predicted = np.concatenate(predictions)
    return loss_sum / len(images), float((predicted == labels).mean()), confusion_matrix(labels, predicted)
