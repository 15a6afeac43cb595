//! SBOM parsing (CycloneDX JSON 1.4–1.6, SPDX 2.3 JSON, Syft JSON).
