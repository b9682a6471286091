"""The rule packs live in the repository's top-level rules/ folder (policy is data, kept apart from code);
they are installed with the package as ``fangpin.shipped_rules`` so that ``fangpin`` finds them wherever it
runs from. pyproject.toml cannot express that mapping next to package discovery, hence this file."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "fangpin.shipped_rules"],
    package_dir={"": "src", "fangpin.shipped_rules": "rules"},
)
