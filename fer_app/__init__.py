"""fer_app: facial-expression recognition on images, videos and a webcam, built on minicnn."""
