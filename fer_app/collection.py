"""A collection of videos and images for fer_app.batch: the paths given -> the jobs to run.

Each video is one job; all the images together are one more (an image takes milliseconds
where a video takes seconds to hours, so a task per image would cost more in scheduling
than in work). A folder stands for the videos and images directly inside it, not in its
subfolders (as for fer_app.image); hidden files are left out. A file given by name is an
image if its extension says so, otherwise a video: OpenCV/FFmpeg decides whether it can
read it. A path that does not exist, or a folder with neither, is a bad input: reported,
not run.

Every video gets an output folder named after it; two videos with the same name from
different folders get "name", "name-2", ... in the order they were given.
"""
from dataclasses import dataclass
from pathlib import Path

from data_tools.preprocess import IMAGE_EXTENSIONS

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
VIDEOS_FOLDER = "videos"
IMAGES_FOLDER = "images"


@dataclass(frozen=True)
class Job:
    """One task of a batch.

    kind     "video" (one video) or "image" (all the images of the collection)
    name     the name of its output folder
    sources  absolute paths of its inputs: the one video, or every image
    """
    kind: str
    name: str
    sources: tuple

    def folder(self, out):
        """Its output folder under the batch's output folder `out`."""
        if self.kind == "image":
            return Path(out) / IMAGES_FOLDER
        return Path(out) / VIDEOS_FOLDER / self.name


@dataclass(frozen=True)
class BadInput:
    """A path given that names nothing to analyse, and why."""
    path: str
    error: str


def is_image(path):
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _files_in(folder):
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and not path.name.startswith(".")
                  and (is_image(path) or path.suffix.lower() in VIDEO_EXTENSIONS))


def collect(paths):
    """Files and folders -> (jobs, bad inputs); each file once, however often it was named."""
    files, bad = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = _files_in(path)
            if not found:
                bad.append(BadInput(str(path), f"{path}: no videos or images in this folder"))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            bad.append(BadInput(str(path), f"{path}: no such file or folder"))
    unique = list(dict.fromkeys(file.resolve() for file in files))
    videos = [file for file in unique if not is_image(file)]
    images = tuple(file for file in unique if is_image(file))
    jobs = [Job("video", name, (video,)) for video, name in zip(videos, _unique_names(videos))]
    if images:
        jobs.append(Job("image", IMAGES_FOLDER, images))
    return jobs, bad


def _unique_names(videos):
    """Output folder names: each video's stem, numbered from the second video of the same name on."""
    names, taken = [], set()
    for video in videos:
        name, number = video.stem, 1
        while name.lower() in taken:   # lower case: two names differing in case are one folder on some systems
            number += 1
            name = f"{video.stem}-{number}"
        taken.add(name.lower())
        names.append(name)
    return names
