"""pip-audit over the project's virtualenv, reported honestly.

pip-audit asks a vulnerability service about every installed distribution: PyPI's JSON API
(https://pypi.org/pypi/<name>/<version>/json, its "vulnerabilities") by default, or OSV
(api.osv.dev). When that service cannot answer, pip-audit marks each dependency "could not
be audited" and still exits 0, which reads as clean. This wrapper tells the three cases
apart:

- audited, no known vulnerability (or only ones listed in IGNORED with a reason): exit 0;
- audited, a vulnerability: exit 1, listing it and its fixed versions;
- not audited (no service answered: offline, or a mirror of PyPI without the per-version
  JSON API): says so in capitals; exit 0, or 1 when REQUIRE_AUDIT=1 (set it where CI has
  network, so that "not audited" can never pass for "clean").
"""

import json
import os
import subprocess
import sys

# Vulnerability id -> why it does not apply here (reviewed; remove when the fix is installed).
IGNORED: dict[str, str] = {}
# Seconds per service attempt.
TIMEOUT = 600


def audit(service: str) -> dict | None:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--vulnerability-service",
        service,
        "--skip-editable",  # shopsync itself is not on PyPI
        "--format",
        "json",
        "--progress-spinner",
        "off",
        *[arg for vuln in IGNORED for arg in ("--ignore-vuln", vuln)],
    ]
    try:
        result = subprocess.run(  # noqa: S603 (fixed argv)
            command, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"pip-audit ({service}): no answer within {TIMEOUT} s")
        return None
    try:
        return json.loads(result.stdout)
    except ValueError:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit ({service}) failed: {last}")
        return None


def main() -> int:
    for service in ("pypi", "osv"):
        report = audit(service)
        if report is None:
            continue
        deps = report.get("dependencies", [])
        skipped = [d for d in deps if d.get("skip_reason")]
        audited = [d for d in deps if not d.get("skip_reason")]
        if not audited:
            print(f"pip-audit ({service}): the service answered for none of {len(deps)} packages")
            continue
        vulnerable = [d for d in audited if d.get("vulns")]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
                print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
        for dep in skipped:
            print(f"NOT AUDITED {dep['name']} {dep['version']}: {dep['skip_reason']}")
        for vuln, reason in IGNORED.items():
            print(f"ignored {vuln}: {reason}")
        print(
            f"pip-audit ({service}): {len(audited)} packages audited, {len(vulnerable)} "
            f"vulnerable, {len(skipped)} not audited"
        )
        return 1 if vulnerable or skipped else 0
    print(
        "PIP-AUDIT NOT RUN: no vulnerability service answered (PyPI's per-version JSON API and "
        "api.osv.dev). Dependencies were NOT checked for known vulnerabilities."
    )
    return 1 if os.environ.get("REQUIRE_AUDIT") == "1" else 0


if __name__ == "__main__":
    sys.exit(main())
