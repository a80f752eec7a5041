"""data_tools: get FER2013 into arrays, and augment them for training.

fer2013          read image folders, the original fer2013.csv or a cache .npz -> arrays
import_fer2013   python -m entry point: any of those layouts -> one cache .npz
augment          seeded random flips, shifts, rotations and zooms of a batch
"""
