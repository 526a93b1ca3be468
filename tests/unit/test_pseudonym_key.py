"""The pseudonym key: from HUB_PSEUDONYM_KEY, else generated once under var/secrets with mode 0600."""

from __future__ import annotations

import stat

import pytest

from hub.settings import Settings
from warehouse.access.keys import KEY_FILE, PseudonymKeyError, pseudonym_key


def test_a_generated_key_is_private_and_stable(tmp_path):
    settings = Settings(var_dir=tmp_path)
    first = pseudonym_key(settings)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert pseudonym_key(Settings(var_dir=tmp_path)) == first


def test_a_key_file_others_can_read_is_refused(tmp_path):
    pseudonym_key(Settings(var_dir=tmp_path))
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(PseudonymKeyError, match="chmod 600"):
        pseudonym_key(Settings(var_dir=tmp_path))


def test_the_setting_wins_and_must_be_long_enough(tmp_path):
    assert pseudonym_key(Settings(var_dir=tmp_path, pseudonym_key="k" * 40)) == b"k" * 40
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(PseudonymKeyError, match="at least 32"):
        pseudonym_key(Settings(var_dir=tmp_path, pseudonym_key="short"))


def test_role_keys_differ_per_role_and_stay_stable():
    from warehouse.access.keys import role_key

    key = b"k" * 40
    assert role_key(key, "mzj") == role_key(key, "mzj") != role_key(key, "scjgj")
    assert role_key(key, "mzj") != role_key(b"j" * 40, "mzj")
