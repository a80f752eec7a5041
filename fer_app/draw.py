"""Drawing results onto BGR uint8 images, in place: face boxes, labels, probability bars, fps.

Sizes follow the image (text_scale), so labels stay readable on a 320x240 frame and on a
4000-pixel photo alike. Each emotion has one colour, EMOTION_COLORS.
"""
from data_tools.labels import EMOTIONS
from data_tools.opencv import cv2

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

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def text_scale(image):
    """OpenCV font scale for an image: 0.5 on a 640x480 frame, proportional to the shorter side."""
    return max(0.35, min(image.shape[:2]) / 960)


def _thickness(scale):
    return max(1, round(scale * 2))


def put_label(image, text, origin, color, scale):
    """Text on a filled box of `color`, bottom-left corner at origin (x, y), kept inside the image."""
    thickness = _thickness(scale)
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, round(4 * scale))
    x = min(max(origin[0], 0), max(image.shape[1] - text_w - 2 * pad, 0))
    y = min(max(origin[1], text_h + 2 * pad), image.shape[0])
    cv2.rectangle(image, (x, y - text_h - 2 * pad), (x + text_w + 2 * pad, y), color, cv2.FILLED)
    # Black text on light colours, white on dark ones: readable on every emotion colour.
    ink = BLACK if sum(color) > 380 else WHITE
    cv2.putText(image, text, (x + pad, y - pad), FONT, scale, ink, thickness, cv2.LINE_AA)


def draw_faces(image, faces):
    """A box in the emotion's colour and "#id label 87%" above it, for every fer_app.recognizer.Face."""
    scale = text_scale(image)
    for face in faces:
        x, y, w, h = face.box
        color = EMOTION_COLORS[face.label]
        cv2.rectangle(image, (x, y), (x + w, y + h), color, _thickness(scale) + 1)
        name = f"#{face.face_id} " if face.face_id is not None else ""
        put_label(image, f"{name}{face.label} {face.confidence:.0%}", (x, y), color, scale)
    return image


def draw_probability_bars(image, probs):
    """A bar per emotion (probs: (7,) in EMOTIONS order) on a dark panel in the bottom-left corner."""
    scale = text_scale(image)
    thickness = _thickness(scale)
    (name_w, line_h), _ = cv2.getTextSize(max(EMOTIONS, key=len), FONT, scale, thickness)
    row_h = round(line_h * 1.9)
    pad = row_h // 3
    bar_w = name_w * 2
    panel_w, panel_h = 3 * pad + name_w + bar_w, pad * 2 + row_h * len(EMOTIONS)
    panel_top = max(image.shape[0] - panel_h, 0)
    panel = image[panel_top:, :panel_w]
    # A darkened copy rather than an opaque box: the frame stays visible behind the chart.
    panel[...] = (panel * 0.35).astype(image.dtype)
    for row, (emotion, p) in enumerate(zip(EMOTIONS, probs)):
        top = panel_top + pad + row * row_h
        cv2.putText(image, emotion, (pad, top + line_h + (row_h - line_h) // 2), FONT, scale, WHITE, thickness,
                    cv2.LINE_AA)
        left = 2 * pad + name_w
        cv2.rectangle(image, (left, top + 2), (left + round(bar_w * float(p)), top + row_h - 2),
                      EMOTION_COLORS[emotion], cv2.FILLED)
    return image


def draw_fps(image, fps):
    """The frame rate, top-right."""
    scale = text_scale(image)
    put_label(image, f"{fps:.1f} fps", (image.shape[1], 0), BLACK, scale)
    return image
