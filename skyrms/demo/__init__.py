"""The embedded demo survey (:mod:`.survey`) and the physics it is simulated with
(:mod:`.physics`)."""
