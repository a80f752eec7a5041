"""benchmarks/tta.py: the extra views are the faces moved and zoomed as said, and the table shows every view set."""
import numpy as np

from benchmarks.tta import VIEW_SETS, moved, table


def test_a_shift_moves_the_face_and_repeats_the_edge():
    faces = np.arange(48 * 48, dtype=np.float32).reshape(1, 1, 48, 48)
    shifted = moved(faces, dx=2, dy=-3)      # 2 right, 3 up
    assert shifted.shape == faces.shape
    np.testing.assert_array_equal(shifted[0, 0, 0:45, 2:], faces[0, 0, 3:48, 0:46])
    np.testing.assert_array_equal(shifted[0, 0, :45, 0], faces[0, 0, 3:, 0])    # left edge repeated
    np.testing.assert_array_equal(moved(faces), faces)


def test_a_zoom_keeps_the_centre_and_scales_about_it():
    faces = np.zeros((1, 1, 48, 48), np.float32)
    faces[0, 0, 14:34, 14:34] = 1.0        # a 20-pixel square in the middle
    assert moved(faces, scale=1.1).sum() > faces.sum() > moved(faces, scale=0.9).sum()
    np.testing.assert_allclose(moved(faces, scale=1.1)[0, 0, 23:25, 23:25], 1.0)


def test_the_table_has_a_row_per_view_set_and_a_column_per_model():
    results = {"date": "2026-12-01", "split": "validation", "images": 10,
               "models": {name: {view_set: {"accuracy": 0.5, "views": 2} for view_set in VIEW_SETS}
                          for name in ("a", "b")}}
    lines = table(results).splitlines()
    assert lines[0].count("|") == 5 and "`a`" in lines[0] and "`b`" in lines[0]
    assert len([line for line in lines if line.startswith("| ") and "50.0%" in line]) == len(VIEW_SETS)
