#!/usr/bin/env python3
"""Writes the crafted CycloneDX 1.6 SBOMs of the Trivy cross-check (sboms/*.cdx.json): per
ecosystem, versions on each edge of the sample feed's ranges (the introduced version, one
below, the fixed version, one below it, pre-releases). OS SBOMs carry an
`operating-system` component, which Trivy needs to pick its OS bucket. Deterministic."""
import json, os

here = os.path.dirname(os.path.abspath(__file__))

def comp(purl, name, version):
    return {"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl}

def lang(eco, name, versions, purl_name=None):
    return [comp(f"pkg:{eco}/{purl_name or name}@{v}", name, v) for v in versions]

SBOMS = {
    "npm-edges": lang("npm", "minimist", ["0.2.3", "0.2.4", "1.0.0", "1.2.5", "1.2.6"])
    + lang("npm", "express", ["4.19.1", "4.19.2", "5.0.0-alpha.1", "5.0.0-beta.2", "5.0.0-beta.3", "5.0.0"])
    + lang("npm", "lodash-es", ["4.17.20", "4.17.21"])
    + lang("npm", "ws", ["2.0.9", "2.1.0", "5.2.3", "5.2.4", "8.17.0", "8.17.1"])
    + lang("npm", "semver", ["5.7.1", "5.7.2", "6.3.0", "7.5.1", "7.5.2"])
    + lang("npm", "axios", ["0.8.0", "0.8.1", "1.5.1", "1.6.0"]),
    "pypi-edges": lang("pypi", "requests", ["2.2.1", "2.3.0", "2.30.0", "2.31.0"])
    + lang("pypi", "urllib3", ["1.26.16", "1.26.17", "2.0.0", "2.0.5", "2.0.6"])
    + lang("pypi", "PyYAML", ["5.4b1", "5.3.1", "5.4"], purl_name="pyyaml")
    + lang("pypi", "Jinja2", ["3.1.2", "3.1.3"], purl_name="jinja2")
    + lang("pypi", "Pillow", ["10.1.0", "10.2.0", "10.2.0rc1"], purl_name="pillow")
    + lang("pypi", "flask", ["2.2.4", "2.2.5", "2.3.0", "2.3.1", "2.3.2"]),
    "maven-edges": [comp(f"pkg:maven/org.apache.logging.log4j/log4j-core@{v}",
                         "org.apache.logging.log4j:log4j-core", v)
                    for v in ["2.3", "2.3.1", "2.4", "2.12.1", "2.12.2", "2.13.0", "2.14.1",
                              "2.15.0-rc1", "2.15.0", "2.17.1"]],
    "go-edges": lang("golang", "golang.org/x/net", ["v0.12.0", "v0.13.0", "v0.16.0", "v0.17.0",
                                                    "v0.22.0", "v0.23.0",
                                                    "v0.0.0-20230101000000-abcdefabcdef"])
    + lang("golang", "stdlib", ["v1.20.9", "v1.20.10", "v1.21.3", "v1.22.1", "v1.22.2"]),
    "cargo-edges": lang("cargo", "time", ["0.1.45", "0.2.6", "0.2.7", "0.2.22", "0.2.23", "0.3.36"])
    + lang("cargo", "hyper", ["0.14.9", "0.14.10", "0.14.10-alpha.1"]),
    "rubygems-edges": lang("gem", "rack", ["2.0.9.3", "2.0.9.4", "2.1.0", "2.1.4.4", "2.2.8",
                                           "2.2.8.1", "3.0.0", "3.0.9", "3.0.9.1"])
    + lang("gem", "actionpack", ["5.2.8.14", "5.2.8.15", "6.0.6", "6.0.6.1", "6.1.7", "6.1.7.1",
                                 "7.0.4.1", "7.0.4.rc1"])
    + lang("gem", "nokogiri", ["1.12.4", "1.12.5", "1.12.5-x86_64-linux"]),
    "composer-edges": lang("composer", "guzzlehttp/guzzle", ["6.5.7", "6.5.8", "7.0.0", "7.4.4",
                                                            "7.4.5", "7.0.0-beta.1"]),
    "maven2-edges": [comp(f"pkg:maven/{g}/{a}@{v}", f"{g}:{a}", v) for g, a, vs in [
        ("org.springframework", "spring-beans", ["5.2.19.RELEASE", "5.2.20.RELEASE", "5.3.0", "5.3.17", "5.3.18"]),
        ("com.fasterxml.jackson.core", "jackson-databind", ["2.12.6", "2.12.6.1", "2.13.0", "2.13.2", "2.13.2.1"]),
        ("org.apache.commons", "commons-text", ["1.4", "1.5", "1.9", "1.10.0"]),
    ] for v in vs],
    "nuget-edges": lang("nuget", "Newtonsoft.Json", ["12.0.3", "13.0.1-beta1", "13.0.1", "13.0.3"]),
}
OS = {
    # openssl is both the binary and the source name; libssl1.1 names its source only
    # through the purl's upstream= qualifier (which Trivy ignores on third-party SBOMs).
    "debian9-edges": ("debian", "9.13", [
        ("openssl", "1.1.0l-1~deb9u5", ""), ("openssl", "1.1.0l-1~deb9u6", ""),
        ("libssl1.1", "1.1.0l-1~deb9u5", "&upstream=openssl"),
        ("libssl1.1", "1.1.0l-1~deb9u6", "&upstream=openssl")], "deb", "debian-9"),
    "debian7-edges": ("debian", "7.11", [
        ("nginx", "1.2.1-2.2+wheezy2", ""), ("nginx", "1.2.1-2.2+wheezy3", ""),
        ("nginx", "1.2.1-2.2+wheezy3~1", "")], "deb", "debian-7"),
    "alpine320-edges": ("alpine", "3.20.3", [
        ("musl", "1.2.5-r0", ""), ("musl", "1.2.5-r1", ""), ("musl", "1.2.4_git20230717-r5", ""),
        ("musl", "1.2.5_rc1-r1", "")], "apk", "alpine-3.20.3"),
}
for name, (os_name, os_ver, pkgs, ptype, distro) in OS.items():
    ns = "debian" if ptype == "deb" else "alpine"
    comps = [{"type": "operating-system", "bom-ref": f"os:{os_name}", "name": os_name, "version": os_ver}]
    for n, v, extra in pkgs:
        purl = f"pkg:{ptype}/{ns}/{n}@{v}?arch=amd64&distro={distro}{extra}"
        comps.append(comp(purl, n, v))
    SBOMS[name] = comps
for name, comps in SBOMS.items():
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "serialNumber": "urn:uuid:00000000-0000-4000-8000-%012d" % (sorted(SBOMS).index(name)),
           "metadata": {"component": {"type": "application", "bom-ref": "root", "name": name}},
           "components": comps}
    with open(os.path.join(here, "sboms", name + ".cdx.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
