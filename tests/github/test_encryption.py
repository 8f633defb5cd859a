"""Tokens encrypted at rest: Fernet keys from HUB_ENCRYPTION_KEY, rotation, clear errors,
and a deployment that forgot the key refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from ingestion.encryption import (
    DecryptionError,
    EncryptionKeyError,
    decrypt,
    encrypt,
    generate_key,
)

PROJECT_ROOT = Path(django_settings.BASE_DIR)
TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
OLD_KEY = generate_key()
NEW_KEY = generate_key()


def test_a_token_comes_back_from_its_ciphertext_which_does_not_contain_it(settings):
    settings.HUB_ENCRYPTION_KEY = NEW_KEY

    ciphertext = encrypt(TOKEN)

    assert TOKEN not in ciphertext
    assert decrypt(ciphertext) == TOKEN


def test_encrypting_twice_gives_two_ciphertexts(settings):
    settings.HUB_ENCRYPTION_KEY = NEW_KEY

    assert encrypt(TOKEN) != encrypt(TOKEN)


def test_after_rotation_old_ciphertexts_still_decrypt_with_the_old_key_listed_second(settings):
    settings.HUB_ENCRYPTION_KEY = OLD_KEY
    old_ciphertext = encrypt(TOKEN)

    settings.HUB_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"

    assert decrypt(old_ciphertext) == TOKEN


def test_after_rotation_new_ciphertexts_use_the_first_key(settings):
    settings.HUB_ENCRYPTION_KEY = f"{NEW_KEY}, {OLD_KEY}"
    new_ciphertext = encrypt(TOKEN)

    settings.HUB_ENCRYPTION_KEY = NEW_KEY

    assert decrypt(new_ciphertext) == TOKEN


def test_a_ciphertext_whose_key_was_rotated_away_names_the_likely_cause(settings):
    settings.HUB_ENCRYPTION_KEY = OLD_KEY
    old_ciphertext = encrypt(TOKEN)
    settings.HUB_ENCRYPTION_KEY = NEW_KEY

    with pytest.raises(DecryptionError) as raised:
        decrypt(old_ciphertext)

    message = str(raised.value)
    assert "HUB_ENCRYPTION_KEY" in message
    assert "rotated away" in message


def test_a_corrupted_ciphertext_is_a_decryption_error(settings):
    settings.HUB_ENCRYPTION_KEY = NEW_KEY

    with pytest.raises(DecryptionError):
        decrypt("not a ciphertext ✗")


def test_a_malformed_key_is_an_error_naming_the_setting_but_not_the_value(settings):
    settings.HUB_ENCRYPTION_KEY = f"{NEW_KEY},not-a-fernet-key"

    with pytest.raises(EncryptionKeyError) as raised:
        encrypt(TOKEN)

    message = str(raised.value)
    assert "HUB_ENCRYPTION_KEY key #2 is not a Fernet key" in message
    assert "not-a-fernet-key" not in message


# --- Startup: a child process, because settings are read once at import. -----------------


def child_process(arguments: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    """`python <arguments>` with `environment` and none of the hub's keys inherited."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name
        not in {"SECRET_KEY", "SECRET_KEY_FILE", "HUB_ENCRYPTION_KEY", "HUB_ENCRYPTION_KEY_FILE"}
    }
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=PROJECT_ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def manage_py_check(**environment: str) -> subprocess.CompletedProcess[str]:
    return child_process(["manage.py", "check"], **environment)


def test_a_deployment_without_an_encryption_key_refuses_to_start_and_says_how_to_make_one():
    result = manage_py_check(SECRET_KEY="a-deployment-secret-key")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "HUB_ENCRYPTION_KEY is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_a_deployment_with_an_encryption_key_starts():
    result = manage_py_check(SECRET_KEY="a-deployment-secret-key", HUB_ENCRYPTION_KEY=NEW_KEY)

    assert result.returncode == 0, result.stderr


def test_a_deployment_with_a_malformed_encryption_key_refuses_to_start():
    result = manage_py_check(
        SECRET_KEY="a-deployment-secret-key", HUB_ENCRYPTION_KEY="too-short-to-be-a-key"
    )

    assert result.returncode != 0
    assert "HUB_ENCRYPTION_KEY key #1 is not a Fernet key" in result.stderr
    assert "too-short-to-be-a-key" not in result.stderr


def test_the_encryption_key_can_be_read_from_a_file(tmp_path):
    key_file = tmp_path / "encryption_key"
    key_file.write_text(f"{NEW_KEY}\n", encoding="utf-8")

    result = manage_py_check(
        SECRET_KEY="a-deployment-secret-key", HUB_ENCRYPTION_KEY_FILE=str(key_file)
    )

    assert result.returncode == 0, result.stderr


def test_the_embedded_setup_uses_a_key_generated_once_into_var():
    result = child_process(
        [
            "-c",
            "import django; django.setup()\n"
            "from django.conf import settings\n"
            "print(settings.HUB_ENCRYPTION_KEY)",
        ]
    )

    assert result.returncode == 0, result.stderr
    key_file = PROJECT_ROOT / "var" / "encryption_key"
    assert result.stdout.strip() == key_file.read_text(encoding="utf-8").strip()
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only
