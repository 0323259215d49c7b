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


def test_every_rule_names_an_existing_env_and_every_env_is_used():
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    used = re.findall(r'conda:\s*"\.\./\.\./envs/([^"]+)"', rules)
    assert len(used) == rules.count("\nrule "), "a rule without a conda environment"
    assert sorted(set(used)) == [p.name for p in ENVS]


def test_envs_differ():
    """Rules that need the same packages share one file (no copies of one environment)."""
    packages = [str(yaml.safe_load(env.read_text())["dependencies"]) for env in ENVS]
    assert len(set(packages)) == len(packages)
