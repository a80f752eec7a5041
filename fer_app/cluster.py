"""Where fer_app.batch's tasks run: a Dask cluster started on this machine, or one already running.

The local cluster has, by default, one worker process per core, each running one task
(one video) at a time. A video's work is cut into steps too small (a frame, a handful of
faces) to share out over cores within it, so the cores are shared out between videos:
each worker process is started with one thread for numba, OpenCV and the BLAS (Dask
itself sets the OpenMP, MKL and OpenBLAS ones). A worker process that dies (killed, out
of memory) is restarted by its nanny, and the scheduler gives its task to a worker, up
to Dask's distributed.scheduler.allowed-failures times (3 unless configured).

For a cluster of several machines, start a scheduler and workers there (dask-scheduler
and dask-worker, dask-jobqueue, Kubernetes), with fer_app installed on every worker and
the inputs and output folder at the same paths everywhere (a shared file system), and
pass the scheduler's address.
"""
import logging
import os
from contextlib import contextmanager
from importlib.util import find_spec

from fer_app.errors import AppError

ONE_THREAD_PER_TASK = {"NUMBA_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"}


def available_cores():
    """Cores this process may run on (fewer than the machine's under a CPU affinity mask or a container)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def dask_client(scheduler=None, workers=None, threads_per_worker=None):
    """A distributed.Client of the cluster at `scheduler` (tcp://HOST:PORT), or of a new local one.

    workers, threads_per_worker: the local cluster's size (default: a worker per core, one
    thread each); unused with a scheduler, whose cluster has its own.
    """
    if find_spec("distributed") is None:
        raise AppError('fer_app.batch needs Dask: pip install "minicnn-fer[batch]"')
    from distributed import Client, LocalCluster
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError) as error:   # unreachable, or not an address
            raise AppError(f"cannot reach a Dask scheduler at {scheduler} ({error})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or available_cores(), threads_per_worker=threads_per_worker or 1,
                      processes=True, env=ONE_THREAD_PER_TASK, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def dashboard_line(client):
    """Where Dask's dashboard of the client's cluster is, as a line of text."""
    hint = "" if find_spec("bokeh") else " (its pages need bokeh: pip install bokeh)"
    return f"Dask dashboard: {client.dashboard_link}{hint}"
