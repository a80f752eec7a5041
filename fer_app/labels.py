"""The one class order of the project.

Every array of labels or probabilities in the project is indexed in this order: the
alphabetical order of the FER2013 class folders. Readers of other layouts (the original
fer2013.csv numbers classes differently) map onto it; nothing else defines a class list.
"""

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_CLASSES = len(EMOTIONS)

# BGR colours for drawing, one per emotion, chosen to stay distinct on video.
EMOTION_COLORS = {
    "angry": (40, 40, 220),
    "disgust": (40, 140, 40),
    "fear": (160, 60, 160),
    "happy": (0, 210, 255),
    "neutral": (200, 200, 200),
    "sad": (200, 120, 40),
    "surprise": (0, 140, 255),
}
