"""The plan of a workflow run: which frames, which masters are built and chosen, each job's
memory (:func:`skyrms.plan.run_plan.make_plan`, read by the workflow's rule files), and the
pieces it is made of: frame selection by layout and time, the master lookup, the masters to
build, the frames a nightly run looks at again."""
