"""Learning-rate schedules: the rate as a function of the optimizer step.

Stateless functions of the step number, so a resumed run gets exactly the rates an
uninterrupted one would have had. All start with an optional linear warm-up, which keeps
the first steps on freshly initialised weights (and empty Adam/momentum averages) small.
"""
import math

SCHEDULES = ("constant", "cosine", "step")


def learning_rate(schedule, base_lr, step, total_steps, warmup_steps=0, final_fraction=0.01,
                  step_every=None, step_factor=0.1):
    """Learning rate for optimizer step `step` (0-based) of `total_steps`.

    constant: base_lr.
    cosine:   from base_lr down to base_lr * final_fraction along half a cosine.
    step:     base_lr * step_factor ** (steps since warm-up // step_every).
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    progress_steps = step - warmup_steps
    if schedule == "cosine":
        span = max(total_steps - warmup_steps, 1)
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress_steps / span, 1.0)))
        return base_lr * (final_fraction + (1 - final_fraction) * cosine)
    if schedule == "step":
        if not step_every:
            raise ValueError("the step schedule needs step_every")
        return base_lr * step_factor ** (progress_steps // step_every)
    raise ValueError(f"unknown schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")
