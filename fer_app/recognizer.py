"""Image -> faces with emotion probabilities: detection, the one preprocessing, one batched forward pass."""
from dataclasses import dataclass

import numpy as np

from data_tools.labels import EMOTIONS
from data_tools.preprocess import crop_face, normalize
from fer_app.predict import MIRROR_AVERAGE, face_probabilities


@dataclass(frozen=True, eq=False)
class Face:
    """One face of an image.

    box        (x, y, w, h) in pixels of the image
    probs      (7,) float32 probabilities in EMOTIONS order, summing to 1; smoothed over
               time once a tracker has seen the face, otherwise equal to raw_probs
    raw_probs  (7,) float32: the network's output for this image alone
    face_id    the tracker's id of the face (videos), None for single images
    """
    box: tuple
    probs: np.ndarray
    raw_probs: np.ndarray
    face_id: int | None = None

    @property
    def label(self):
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self):
        return float(np.max(self.probs))


class EmotionRecognizer:
    """EmotionRecognizer(model, detector): image -> [Face], every face of it.

    model     a minicnn Sequential checked by fer_app.model_store (EMOTIONS, INPUT_SHAPE)
    detector  a face detector (see fer_app.detect), or None when every image is already a
              face crop (like the 48x48 images of the data set): the whole image is one face
    """

    def __init__(self, model, detector=None, mirror=MIRROR_AVERAGE):
        self.model = model
        self.detector = detector
        self.mirror = mirror

    def analyze(self, image):
        """BGR or gray uint8 image -> [Face], largest first (one face, the image, without a detector)."""
        if self.detector is None:
            boxes = [(0, 0, image.shape[1], image.shape[0])]
        else:
            boxes = self.detector.detect(image)
        return self.classify(image, boxes)

    def classify(self, image, boxes):
        """Faces at the given boxes of an image -> [Face], in the order of boxes.

        All faces go through the network as one batch (N, 1, 48, 48): one forward pass per
        image rather than one per face. Each face is cut out as the detector's framing
        says, framed as FER2013 frames its faces (see fer_app.framing).
        """
        if not boxes:
            return []
        crops = boxes if self.detector is None else [self.detector.framing.crop_box(box) for box in boxes]
        batch = normalize(np.stack([crop_face(image, crop) for crop in crops]))
        probabilities = face_probabilities(self.model, batch, self.mirror)
        return [Face(tuple(int(v) for v in box), probs, probs) for box, probs in zip(boxes, probabilities)]
