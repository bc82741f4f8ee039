"""Encryption of secrets at rest (tokens, PKCE verifiers) with Fernet; several keys allow rotation."""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts with the first key of a comma-separated list and decrypts with any of them."""

    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise InvalidToken(
                "a stored secret cannot be decrypted with ENCRYPTION_KEY: was the key changed? "
                "Put the old key after the new one (comma-separated) to rotate"
            ) from None

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()


def fingerprint(value: str) -> str:
    """A one-way digest for looking a secret up (OAuth states) without storing it."""
    return hashlib.sha256(value.encode()).hexdigest()
