"""data_tools: FER2013 as arrays, and the conventions every model input follows.

labels           the one class order, EMOTIONS
preprocess       the one preprocessing: any face image -> the model's input tensor
opencv           cv2, loaded with the project's limit on decoded image size
fer2013          read image folders, the original fer2013.csv or a cache .npz -> arrays
import_fer2013   python -m entry point: any of those layouts -> one cache .npz
augment          seeded random flips, shifts, rotations and zooms of a batch
errors, cli      DataError, and the runner that turns user errors into one line and exit 2
"""
