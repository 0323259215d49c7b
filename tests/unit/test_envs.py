"""The per-rule conda environments stay in step with pyproject.toml and the rules."""

import re
import tomllib

import pytest
import yaml

from tests.helpers import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
SCIENCE = {"numpy", "astropy", "sep"}
"""What every rule script imports through the skyrms package."""


def requirement(text: str) -> tuple[str, str]:
    """('name', 'specifier') of a requirement such as 'numpy >=1.26' or 'numpy>=1.26'."""
    name, specifier = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    return name.lower(), specifier.replace(" ", "")


def project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_match_pyproject(env):
    pinned = dict(requirement(r) for r in project()["dependencies"])
    spec = yaml.safe_load(env.read_text())
    assert "conda-forge" in spec["channels"]
    listed = dict(requirement(d) for d in spec["dependencies"] if isinstance(d, str))
    assert listed.pop("python") == project()["requires-python"]
    assert set(listed) >= SCIENCE, f"{env.name} lacks {SCIENCE - set(listed)}"
    for name, specifier in listed.items():
        assert name in pinned, f"{env.name}: {name} is not a dependency in pyproject.toml"
        assert specifier == pinned[name], f"{env.name}: {name}{specifier} vs {pinned[name]}"


def test_every_rule_has_its_own_existing_env():
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    used = re.findall(r'conda:\s*"\.\./\.\./envs/([^"]+)"', rules)
    assert used, "no rule names a conda environment"
    assert len(used) == len(set(used)) == rules.count("\nrule ")
    assert sorted(used) == [p.name for p in ENVS]
