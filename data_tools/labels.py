"""The one class order of the project.

Every array of labels or probabilities in the project is indexed in this order: the
alphabetical order of the FER2013 class folders. Readers of other layouts (the original
fer2013.csv numbers classes differently) map onto it; nothing else defines a class list.
"""

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_CLASSES = len(EMOTIONS)
