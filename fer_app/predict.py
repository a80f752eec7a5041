"""Face tensors -> class probabilities: the one place the app runs the network.

A face and its mirror image show the same expression, and training shows the network
both (augmentation flips half the faces), so by default the app averages the
probabilities of the two views, test-time augmentation: the shipped model's record
gives the validation accuracy with and without it. The two views go through the
network as one batch. `mirror=False` (the commands' --no-mirror) halves the work.
"""
import numpy as np

MIRROR_AVERAGE = True


def face_probabilities(model, faces, mirror=MIRROR_AVERAGE):
    """faces: (N, 1, 48, 48) float32, as preprocess.normalize makes them -> (N, 7) probabilities."""
    if not mirror:
        return model.predict_proba(faces)
    both = model.predict_proba(np.concatenate([faces, faces[..., ::-1]]))
    return (both[:len(faces)] + both[len(faces):]) / 2
