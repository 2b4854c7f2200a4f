"""Credentials at rest (``crm_platform.sealing``, in the SDK as ``seal`` / ``unseal``)."""

from __future__ import annotations

from typing import Any

from crm_platform.sdk import is_sealed, seal, unseal


def test_a_sealed_credential_reads_back_only_for_its_purpose(app: Any) -> None:
    with app.app_context():
        sealed = seal("pa55-wörd", purpose="calendar")
        assert is_sealed(sealed) and "pa55" not in sealed
        assert seal("pa55-wörd", purpose="calendar") != sealed  # a fresh IV each time
        assert unseal(sealed, purpose="calendar") == "pa55-wörd"
        assert unseal(sealed, purpose="erp") is None  # sealed for another use
        assert unseal(sealed[:-4] + "AAAA", purpose="calendar") is None  # damaged
        assert unseal("plain value", purpose="calendar") == "plain value"
        assert unseal(None, purpose="calendar") is None


def test_another_key_cannot_read_it(app: Any) -> None:
    with app.app_context():
        sealed = seal("token", purpose="erp")
        app.config["CREDENTIALS_KEY"] = "a rotated key"
        assert unseal(sealed, purpose="erp") is None
        assert unseal(seal("token", purpose="erp"), purpose="erp") == "token"
