"""The Docker image's recipe, run without Docker: build the wheels with the Dockerfile's build
command, install them offline as its runtime stage does, start its CMD, and fetch the page."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import trustme

ROOT = Path(__file__).resolve().parents[3]


def dockerfile_step(pattern: str) -> str:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no {pattern!r} in the Dockerfile"
    return found.group(1).strip()


def test_the_images_wheel_installs_offline_and_its_cmd_serves_the_page(tmp_path: Path) -> None:
    """Build-stage wheels, an offline install, the CMD with mounted certs: the page over TLS."""
    build = shlex.split(dockerfile_step(r"^RUN (pip wheel .*)$"))
    assert build[-1] == "."
    wheels = tmp_path / "wheels"
    build = [w if w != "/wheels" else str(wheels) for w in build]
    subprocess.run(
        [sys.executable, "-m", *build], cwd=ROOT, check=True, capture_output=True, timeout=600
    )
    assert list(wheels.glob("softphone_proxy-*.whl"))

    install = shlex.split(dockerfile_step(r"^RUN (pip install .*?) &&"))
    install = [w if w != "/wheels" else str(wheels) for w in install]
    env_dir = tmp_path / "image"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", *install], check=True, capture_output=True, timeout=600)

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certs = tmp_path / "certs"
    certs.mkdir()
    cert.cert_chain_pems[0].write_to_path(str(certs / "tls.crt"))
    cert.private_key_pem.write_to_path(str(certs / "tls.key"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    cmd = json.loads(dockerfile_step(r"^CMD (\[.*\])$"))
    cmd = [
        {"/certs/tls.crt": str(certs / "tls.crt"), "/certs/tls.key": str(certs / "tls.key")}.get(
            w, w
        )
        .replace("8443", port)
        .replace("0.0.0.0", "127.0.0.1")  # noqa: S104 - the image's address, narrowed here
        for w in cmd
    ]
    assert cmd[:2] == ["softphone-proxy", "serve"]
    library = _voice_stage(tmp_path)
    env = {
        "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}",
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/image.db",
        "SOFTPHONE_VOICE_CONNECTOR_LIBRARY": str(library),
        "HOME": str(tmp_path),
    }
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env)  # not the checkout: only the wheel
    try:
        with ca.cert_pem.tempfile() as ca_file:
            context = ssl.create_default_context(cafile=ca_file)
            base = f"https://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", verify=context).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "CMD did not serve"
                time.sleep(0.2)
            page = httpx.get(f"{base}/softphone/softphone.html", verify=context)
            assert page.status_code == 200 and "<html" in page.text
            french = httpx.get(f"{base}/softphone/i18n/fr.json", verify=context)
            assert french.status_code == 200
            # The Voice connector's library, from the image's npm stage.
            scv = httpx.get(f"{base}/voice/vendor/scv-connector-base.js", verify=context)
            assert scv.status_code == 200 and len(scv.content) > 10_000
    finally:
        proc.terminate()
        proc.wait(10)


def _voice_stage(tmp_path: Path) -> Path:
    """The image's npm stage: its install command, into a folder here instead of /scv; the
    package folder the runtime stage copies."""
    install = shlex.split(dockerfile_step(r"^RUN (npm install .*)$"))
    prefix = tmp_path / "scv"
    install = [w if w != "/scv" else str(prefix) for w in install]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    copied = dockerfile_step(r"^COPY --from=voice (\S+) ")
    package = prefix / copied.removeprefix("/scv/")
    assert (package / "dist" / "scv-connector-base.js").is_file()
    return package
