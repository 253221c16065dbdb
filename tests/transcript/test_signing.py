"""Signed transcripts: PAdES with a configured key, accepted by pdfsig and pyHanko's validator."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pypdf
import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, load_pem_private_key, pkcs12
from cryptography.x509 import load_pem_x509_certificate

from tests.transcript.factories import NOW
from tests.transcript.test_service import _seed
from usecases.settings import Settings, SettingsError
from usecases.transcript_verification import verify_transcript
from usecases.transcripts import create_request, fulfil_request

PEERGUARD = str(Path(sys.executable).parent / "peerguard")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    made = subprocess.run([PEERGUARD, "keys", "create-self-signed", "--out", str(tmp_path / "keys"), "--name", "PG Test Signer"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key, cert = (Path(line.split("=", 1)[1]) for line in made.stdout.splitlines())
    assert key.stat().st_mode & 0o077 == 0, "the private key must not be readable by others"
    return key, cert


@pytest.fixture(params=["pem", "pkcs12"])
def settings(request, db_url: str, tmp_path: Path, keys: tuple[Path, Path]) -> Settings:
    key, cert = keys
    env = {"PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db_url, "EMAIL_URL": (tmp_path / "outbox").as_uri()}
    if request.param == "pem":
        env.update({"PEERGUARD_SIGNING_KEY": str(key), "PEERGUARD_SIGNING_CERT": str(cert)})
    else:
        bundle = tmp_path / "keys" / "signer.p12"
        bundle.write_bytes(pkcs12.serialize_key_and_certificates(
            b"pg", load_pem_private_key(key.read_bytes(), None), load_pem_x509_certificate(cert.read_bytes()), None,
            BestAvailableEncryption(b"secret")))
        env.update({"PEERGUARD_SIGNING_KEY": str(bundle), "PEERGUARD_SIGNING_PASSPHRASE": "secret"})
    return Settings.from_environment(env)


def _signed_transcript(app) -> bytes:
    _seed(app)
    outcome = fulfil_request(app, create_request(app, "conv-77", "staff:ann", NOW), NOW)
    assert outcome.status == "done", outcome.error
    return outcome.pdf_path.read_bytes()


def test_a_signed_transcript_validates_in_pyhanko_and_still_verifies(app, keys) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    data = _signed_transcript(app)
    signatures = PdfFileReader(io.BytesIO(data)).embedded_signatures
    assert len(signatures) == 1
    assert signatures[0].sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    status = validate_pdf_signature(signatures[0], ValidationContext(trust_roots=[load_cert_from_pemder(str(keys[1]))]))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert "PG Test Signer" in status.signing_cert.subject.human_friendly
    # The signature is an incremental update: pages and record are untouched, so verify still passes.
    report = verify_transcript(data, app)
    assert report.ok and any("signed by" in note and "PG Test Signer" in note for note in report.notes), report
    # Anything appended after signing (here: a re-save with pikepdf, which keeps the pages) is reported.
    resaved = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.docinfo["/Title"] = "edited"
        pdf.save(resaved)
    assert not verify_transcript(resaved.getvalue(), app).ok
    first_page = " ".join(pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    assert "Requested by staff:ann, at 2026-04-02 12:30:00 UTC" in first_page


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig (poppler-utils) is installed by scripts/dev setup")
def test_pdfsig_accepts_the_signature(app, tmp_path: Path) -> None:
    target = tmp_path / "signed.pdf"
    target.write_bytes(_signed_transcript(app))
    checked = subprocess.run(["pdfsig", str(target)], capture_output=True, text=True, timeout=60)
    assert re.search(r"Signature Validation: Signature is Valid", checked.stdout), checked.stdout + checked.stderr
    assert "PG Test Signer" in checked.stdout
    # Altering one byte inside the signed range must make pdfsig refuse it.
    data = bytearray(target.read_bytes())
    position = data.index(b"/Producer")
    data[position + 1] = ord("p")
    target.write_bytes(bytes(data))
    altered = subprocess.run(["pdfsig", str(target)], capture_output=True, text=True, timeout=60)
    assert "Signature is Valid" not in altered.stdout, altered.stdout


def test_signing_settings_are_checked(tmp_path: Path, keys) -> None:
    key, cert = keys
    with pytest.raises(SettingsError, match="PEERGUARD_SIGNING_CERT"):
        Settings.from_environment({"PEERGUARD_SIGNING_KEY": str(key)})
    with pytest.raises(SettingsError, match="no such file"):
        Settings.from_environment({"PEERGUARD_SIGNING_KEY": str(key), "PEERGUARD_SIGNING_CERT": str(tmp_path / "nope.pem")})
    with pytest.raises(SettingsError, match="PEERGUARD_TSA_URL"):
        Settings.from_environment({"PEERGUARD_SIGNING_KEY": str(key), "PEERGUARD_SIGNING_CERT": str(cert),
                                   "PEERGUARD_TSA_URL": "ftp://tsa"})
    assert Settings.from_environment({}).transcript_signing is None
