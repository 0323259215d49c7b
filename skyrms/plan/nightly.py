"""The earlier frames a nightly run adds to its time selection (``inputs.add_rechosen``).

See :mod:`skyrms.plan.rechosen`: frames outside the selection that were never attempted, that
arrived or changed since their products were made, or that choose other masters now that
new ones arrived. Arrival times are the header index's.
"""

import logging

from skyrms.io.headerindex import HeaderIndex
from skyrms.plan import master_groups, master_lookup, rechosen
from skyrms.plan.calibration_plan import CalibrationPlan, master_choices


def master_arrivals(plan: CalibrationPlan, index: HeaderIndex) -> list[rechosen.Arrival]:
    """When each master of the library arrived as it is now: a planned master when the
    newest of its raw frames and of the masters it is corrected with did."""
    seen = {}
    for group in sorted(plan.groups.values(), key=master_groups.build_order):
        needs = plan.prerequisites[group.relpath].masters or {}
        seen[group.master.path] = max(
            [index.seen(path) for path in group.raws]
            + [seen.get(path) or index.seen(path) for path in needs.values()]
        )
    return [
        rechosen.Arrival(
            unit=(m.observatory, m.telkey, m.unit),
            mjd=m.mjd,
            seen=seen.get(m.path) or index.seen(m.path),
            imagetyp=m.imagetyp,
        )
        for masters in plan.library.values()
        for m in masters
    ]


def frame_arrival(key: str, path: str, index: HeaderIndex) -> rechosen.Arrival:
    """A frame's unit, time and arrival, for skyrms.plan.rechosen (no unit if unreadable)."""
    try:
        frame = master_lookup.frame_observation(key, path, index.fields(path))
        unit, mjd = (frame.observatory, frame.telkey, frame.unit), frame.mjd
    except ValueError:
        unit, mjd = (), float("nan")
    return rechosen.Arrival(unit=unit, mjd=mjd, seen=index.seen(path))


def earlier_frames(
    outside: dict[str, str],
    selected: int,
    plan: CalibrationPlan,
    index: HeaderIndex,
    last_products,
    dark_exptime: str,
    log: logging.Logger,
) -> dict[str, str]:
    """The frames of ``outside`` (key -> path, outside a time selection of ``selected``
    frames) that the nightly run looks at again, by key. ``last_products(key)`` gives the
    paths whose first existing one dates a frame's last attempt: its final product (the
    recorded masters, or the RMS map without calibration), then its jobs' logs."""
    attempts = {key: rechosen.last_attempt(last_products(key)) for key in outside}
    new, served = rechosen.candidates(
        {key: frame_arrival(key, path, index) for key, path in outside.items()},
        master_arrivals(plan, index) if plan.roots else [],
        attempts,
        plan.max_days,
    )
    choices = master_choices({key: outside[key] for key in served}, plan, index, dark_exptime)
    changed = rechosen.frames_choosing_other_masters(
        {key: choice.masters for key, choice in choices.items()},
        {key: last_products(key)[0] for key in served},
    )
    log.info(
        f"Nightly (inputs.add_rechosen): {selected} frames in the time selection, "
        f"{len(new)} earlier ones new or changed, {len(changed)} choosing other masters."
    )
    return {key: outside[key] for key in [*new, *changed]}
