"""tests/fixtures/: every file documented, the budget kept, a missing file failing (never skipping) its test."""

import hashlib
import re

import pytest

from conftest import FIXTURES_DIR, REPO_ROOT, fixture_path

TESTS_BUDGET_BYTES = 15_000_000  # everything under tests/: every user clones it into custom_nodes
ASTRONAUT_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"  # scikit-image 0.26.0's file


def _files(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def test_a_missing_fixture_fails_and_names_the_file():
    with pytest.raises(pytest.fail.Exception, match="tests/fixtures/media/audio/missing.wav is missing"):
        fixture_path("media", "audio", "missing.wav")


def test_the_full_sets_layout_is_accepted():
    assert fixture_path("fixtures", "joyvasa", "motion_template.pkl") == fixture_path("joyvasa", "motion_template.pkl")


def test_every_fixture_file_is_listed_in_the_readme():
    readme = (FIXTURES_DIR / "README.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))
    listed = {name for name in listed if "/" in name}  # the file table (the tensor table names keys)
    assert listed == _files(FIXTURES_DIR) - {"README.md"}


def test_the_astronaut_photo_is_the_original_file():
    astronaut = fixture_path("media", "portraits", "astronaut_512x512.png").read_bytes()
    assert hashlib.sha256(astronaut).hexdigest() == ASTRONAUT_SHA256


def test_tests_stay_small():
    folder = REPO_ROOT / "tests"
    total = sum((folder / name).stat().st_size for name in _files(folder))
    assert total < TESTS_BUDGET_BYTES, f"tests/ holds {total / 1e6:.1f} MB (budget {TESTS_BUDGET_BYTES / 1e6:.0f} MB)"
