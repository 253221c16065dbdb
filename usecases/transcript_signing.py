"""Signing transcripts (PAdES baseline B-B, B-T with a time stamp server) and development keys.

A signed transcript is checked by any PDF reader (``pdfsig``, Acrobat) and by pyHanko's validator;
the signature covers the pages and the embedded record alike, so a forger cannot re-chain both.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from storage.files import atomic_write
from usecases.settings import TranscriptSigning

SIGNATURE_FIELD = "PeerGuardTranscript"


@dataclass(frozen=True)
class DevelopmentKeys:
    """A self-signed key pair for development, as PEM bytes."""

    key_pem: bytes
    cert_pem: bytes


def sign_transcript(pdf: bytes, signing: TranscriptSigning, requested_by: str) -> bytes:
    """Return ``pdf`` with a PAdES signature appended as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps

    timestamper = timestamps.HTTPTimeStamper(signing.tsa_url) if signing.tsa_url else None
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=f"PeerGuard dispute transcript, requested by {requested_by}", location="PeerGuard",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    output = signers.sign_pdf(writer, metadata, signer=load_signer(signing), timestamper=timestamper)
    return output.getvalue()


def load_signer(signing: TranscriptSigning):
    """The pyHanko signer for the configured key; ValueError when the files cannot be used."""
    from pyhanko.sign import signers

    if signing.pkcs12:
        signer = signers.SimpleSigner.load_pkcs12(str(signing.key_path), passphrase=signing.passphrase)
    else:
        signer = signers.SimpleSigner.load(str(signing.key_path), str(signing.cert_path), key_passphrase=signing.passphrase)
    if signer is None:
        raise ValueError(f"cannot load the signing key {signing.key_path} (wrong file or passphrase)")
    return signer


def create_development_keys(common_name: str, now: datetime, days: int = 365) -> DevelopmentKeys:
    """A fresh RSA-3072 key and a self-signed certificate for signing transcripts in development."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PeerGuard development (not trusted)")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return DevelopmentKeys(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM))


def write_development_keys(directory: Path, common_name: str, now: datetime) -> tuple[Path, Path]:
    """Create ``key.pem`` (mode 0600) and ``cert.pem`` in ``directory``; refuse to overwrite a key."""
    key_path, cert_path = directory / "transcript-signing-key.pem", directory / "transcript-signing-cert.pem"
    if key_path.exists():
        raise FileExistsError(f"{key_path} exists; remove it first or choose another directory")
    keys = create_development_keys(common_name, now)
    atomic_write(key_path, keys.key_pem)
    key_path.chmod(0o600)
    atomic_write(cert_path, keys.cert_pem)
    return key_path, cert_path


@dataclass(frozen=True)
class SignatureCheck:
    """One embedded signature: who signed, whether the signed bytes are untouched and cover the file."""

    signer: str
    intact: bool
    covers_whole_file: bool


def check_signatures(pdf: bytes) -> list[SignatureCheck]:
    """Check each signature's integrity (not trust: that needs the reader's own trust list)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    checks = []
    for signature in PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures:
        status = validate_pdf_signature(signature)
        checks.append(SignatureCheck(
            signer=status.signing_cert.subject.human_friendly, intact=bool(status.intact),
            covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        ))
    return checks
