"""Random flips, shifts, rotations, zooms and erasures of training batches, drawn from a seeded Generator.

The on-the-fly augmentation the original report used (Keras ImageDataGenerator with
horizontal_flip, width/height_shift_range, rotation_range, zoom_range), redone so that
each image gets all of its random changes as ONE affine warp: one interpolation, so no
blur piles up, and fast enough to run per batch (about a millisecond for 64 48x48 faces).
Pixels the warp brings in from outside the image repeat the nearest edge pixel, like
Keras' default fill_mode="nearest", so no black corners teach the network a false cue.

Random erasing (Zhong et al. 2017, "Random Erasing Data Augmentation") comes after the
warp: with probability erase_prob one rectangle of each image is replaced by random
pixels, so the network cannot lean on any single region (a mouth, an eyebrow) and must
use the whole face: a regulariser against the overfitting of longer runs.
"""
import numpy as np

from data_tools.opencv import cv2


def warp(batch, matrices):
    """float32 (N, C, H, W) -> new (N, C, H, W): image i mapped by the affine matrices[i] (2, 3),
    source pixel -> output pixel, bilinear, the nearest edge pixel repeated where it reaches outside."""
    n, channels, height, width = batch.shape
    out = np.empty_like(batch)
    for i in range(n):
        for c in range(channels):
            out[i, c] = cv2.warpAffine(batch[i, c], matrices[i], (width, height),
                                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


class Augmenter:
    """Callable: float32 batch (N, C, H, W) -> a new, randomly transformed float32 batch (N, C, H, W).

    rng:              numpy.random.Generator all randomness comes from: the same seed gives
                      the same sequence of augmented batches.
    flip:             mirror left-right with probability 1/2 (faces are near-symmetric,
                      expressions are not side-specific).
    max_shift:        largest move, as a fraction of the width (horizontally) and height
                      (vertically), each drawn uniformly in [-max_shift, max_shift].
    max_rotation_deg: largest rotation about the centre, drawn uniformly in degrees.
    max_zoom:         scale drawn uniformly in [1 - max_zoom, 1 + max_zoom], the same for
                      both axes so faces keep their proportions (Keras draws one per axis).
    erase_prob:       probability that an image gets one rectangle of uniform random pixels
                      in [0, 1) (the range of normalized faces), covering ERASE_AREA of the
                      image with an aspect ratio in ERASE_ASPECT (drawn log-uniformly).
                      0 (the default) draws nothing: older runs' random streams are unchanged.

    The defaults are the usual FER2013 settings: small enough that a face stays a face
    and fits the frame. Augmenter(rng, flip=False, max_shift=0, max_rotation_deg=0,
    max_zoom=0) changes nothing and returns copies.
    """

    ERASE_AREA = (0.02, 0.25)       # fraction of the image; a quarter still leaves the face readable
    ERASE_ASPECT = (0.3, 3.3)       # height / width, the paper's range

    def __init__(self, rng, flip=True, max_shift=0.1, max_rotation_deg=10.0, max_zoom=0.1, erase_prob=0.0):
        if min(max_shift, max_rotation_deg, max_zoom) < 0 or max_zoom >= 1:
            raise ValueError("max_shift, max_rotation_deg and max_zoom must be >= 0, and max_zoom < 1")
        if not 0 <= erase_prob <= 1:
            raise ValueError("erase_prob must be in [0, 1]")
        self.rng = rng
        self.flip = flip
        self.max_shift = max_shift
        self.max_rotation_deg = max_rotation_deg
        self.max_zoom = max_zoom
        self.erase_prob = erase_prob

    @property
    def warps(self):
        """False when every geometric change is off."""
        return bool(self.flip or self.max_shift or self.max_rotation_deg or self.max_zoom)

    def __call__(self, batch):
        """float32 (N, C, H, W) -> new float32 (N, C, H, W); the input is left untouched."""
        if batch.ndim != 4:
            raise ValueError(f"expected a batch of shape (N, C, H, W), got {batch.shape}")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        n, _, height, width = batch.shape
        out = warp(batch, self._random_matrices(n, height, width)) if self.warps else batch.copy()
        if self.erase_prob:
            self._erase_rectangles(out)
        return out

    def _erase_rectangles(self, batch):
        """In place: each image, with probability erase_prob, gets one rectangle of random pixels (all channels)."""
        n, channels, height, width = batch.shape
        chosen = np.flatnonzero(self.rng.random(n) < self.erase_prob)
        area = self.rng.uniform(*self.ERASE_AREA, size=len(chosen)) * height * width
        aspect = np.exp(self.rng.uniform(*np.log(self.ERASE_ASPECT), size=len(chosen)))
        rect_heights = np.clip(np.rint(np.sqrt(area * aspect)), 1, height).astype(int)
        rect_widths = np.clip(np.rint(np.sqrt(area / aspect)), 1, width).astype(int)
        tops = self.rng.integers(0, height - rect_heights + 1)
        lefts = self.rng.integers(0, width - rect_widths + 1)
        for i, top, left, h, w in zip(chosen, tops, lefts, rect_heights, rect_widths):
            batch[i, :, top:top + h, left:left + w] = self.rng.random((channels, h, w), dtype=np.float32)

    def _random_matrices(self, n, height, width):
        """-> (n, 2, 3) float64 affine maps, source pixel -> output pixel, one per image.

        Each is: move the centre to the origin, mirror, zoom and rotate about it, move it
        back plus the shift.
        """
        mirror = np.where(self.rng.random(n) < 0.5, -1.0, 1.0) if self.flip else np.ones(n)
        shift = self.rng.uniform(-self.max_shift, self.max_shift, size=(n, 2)) * (width, height)
        angle = np.deg2rad(self.rng.uniform(-self.max_rotation_deg, self.max_rotation_deg, size=n))
        zoom = self.rng.uniform(1 - self.max_zoom, 1 + self.max_zoom, size=n)

        cos, sin = zoom * np.cos(angle), zoom * np.sin(angle)
        # Linear part: (zoomed rotation) @ diag(mirror, 1).
        linear = np.stack([np.stack([cos * mirror, -sin], axis=-1),
                           np.stack([sin * mirror, cos], axis=-1)], axis=1)       # (n, 2, 2)
        centre = np.array([(width - 1) / 2, (height - 1) / 2])
        translation = centre + shift - linear @ centre                              # (n, 2)
        return np.concatenate([linear, translation[:, :, None]], axis=2)
