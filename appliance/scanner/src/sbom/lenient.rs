//! Small serde helpers: a borrowing string, a value that never fails to deserialize, and
//! the format probe.
use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::SbomError;

/// A JSON string that borrows from the input when it has no escapes. (serde's own
/// `Cow<str>` impl always allocates, even with `#[serde(borrow)]` inside an `Option`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl Str<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Any JSON value, kept only as far as a string or number goes. Used where producers put
/// varying types under one key (Syft `metadata` differs per package type) so that an
/// unexpected type is ignored instead of refusing the whole SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Loose<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// A number, as written.
    Num(String),
    /// An object; `version` holds its `version` member when that is a string.
    Map { version: Option<Cow<'a, str>> },
    /// Anything else, by JSON type name.
    Other(&'static str),
}

impl Loose<'_> {
    /// The value as text (strings and numbers), else `None`.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            Loose::Num(n) => Some(n),
            _ => None,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Loose::Str(_) => "a string",
            Loose::Num(_) => "a number",
            Loose::Map { .. } => "an object",
            Loose::Other(t) => t,
        }
    }
}

/// `Option<Loose>` → `Option<&str>`, the common use.
pub(crate) fn text<'s>(v: &'s Option<Loose<'_>>) -> Option<&'s str> {
    v.as_ref().and_then(Loose::text).filter(|s| !s.is_empty())
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Loose<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Loose::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Loose::Num(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Loose::Num(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Loose::Num(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Loose::Other("null"))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Loose::Other("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<Str<'_>>()? {
                    if key.as_str() == "version" {
                        if let Loose::Str(s) = map.next_value::<Loose<'a>>()? {
                            version = Some(s);
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Loose::Map { version })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The top-level facts that identify a format.
#[derive(Debug, Default)]
pub(crate) struct Probe<'a> {
    bom_format: Option<Loose<'a>>,
    spec_version: Option<Loose<'a>>,
    spdx_version: Option<Loose<'a>>,
    schema: Option<Loose<'a>>,
    has_components: bool,
    has_artifacts: bool,
    has_descriptor: bool,
    /// The first few top-level keys, to say what *was* found in an unknown document.
    keys: Vec<String>,
    key_count: usize,
    /// The probe stopped early because the format was settled.
    done: bool,
}

/// What the probe decided.
#[derive(Debug)]
pub(crate) enum Kind {
    /// CycloneDX with this `specVersion`.
    CycloneDx(String),
    /// SPDX with this `spdxVersion`.
    Spdx(String),
    /// Syft JSON with this `schema.version`.
    Syft(String),
    /// Not a supported SBOM, or broken at the top level.
    Error(SbomError),
}

const SHOWN_KEYS: usize = 8;

/// Fills a [`Probe`] and stops the parse early, with [`PROBE_DONE`], as soon as the keys
/// seen settle the format: CycloneDX and SPDX put their version keys first, so the probe
/// of a large document usually reads a few dozen bytes.
struct ProbeSeed<'p, 'a>(&'p mut Probe<'a>);

/// The sentinel error that ends the probe early; never shown to users.
const PROBE_DONE: &str = "\u{0}probe-done";

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for ProbeSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ProbeSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let p = self.0;
        while let Some(key) = map.next_key::<Str<'_>>()? {
            p.key_count += 1;
            match key.as_str() {
                "bomFormat" => p.bom_format = Some(map.next_value()?),
                "specVersion" => p.spec_version = Some(map.next_value()?),
                "spdxVersion" => p.spdx_version = Some(map.next_value()?),
                "schema" => p.schema = Some(map.next_value()?),
                k => {
                    match k {
                        "components" => p.has_components = true,
                        "artifacts" => p.has_artifacts = true,
                        "descriptor" => p.has_descriptor = true,
                        _ => {}
                    }
                    if p.keys.len() < SHOWN_KEYS {
                        p.keys.push(k.chars().take(40).collect());
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
            let settled = (p.bom_format.is_some() && p.spec_version.is_some())
                || (p.bom_format.is_none() && p.spdx_version.is_some());
            if settled {
                p.done = true;
                return Err(de::Error::custom(PROBE_DONE));
            }
        }
        Ok(())
    }
}

/// Read the discriminating top-level keys, skipping values without allocating; stops as
/// soon as the format is settled (see [`ProbeSeed`]).
pub(crate) fn probe(bytes: &[u8]) -> Result<Probe<'_>, SbomError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let what = match first {
        None => {
            return Err(SbomError::NotJson {
                line: 1,
                column: 0,
                msg: "empty document".into(),
            });
        }
        Some(b'{') => None,
        Some(b'[') => Some("a JSON array"),
        Some(b'"') => Some("a JSON string"),
        Some(b't' | b'f') => Some("a JSON boolean"),
        Some(b'n') => Some("JSON null"),
        Some(b'-' | b'0'..=b'9') => Some("a JSON number"),
        Some(_) => None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut p = Probe::default();
    let r = de::DeserializeSeed::deserialize(ProbeSeed(&mut p), &mut de).and_then(|()| de.end());
    match (r, what) {
        (Ok(()), _) => Ok(p),
        // The rest of the document is checked by the typed parse that follows.
        (Err(_), _) if p.done => Ok(p),
        // Syntax errors win over "not an object" so that `[1,` says where it breaks.
        (Err(e), Some(what)) if e.is_data() => Err(SbomError::UnknownFormat(format!(
            "the document is {what}, not an object with bomFormat (CycloneDX), spdxVersion (SPDX) or artifacts+schema (Syft)"
        ))),
        (Err(e), _) => Err(super::json_error(e, "SBOM", ".".into())),
    }
}

impl Probe<'_> {
    /// Decide the format. Order matters only for documents that mix formats' keys.
    pub(crate) fn kind(&self) -> Kind {
        let string_field = |v: &Option<Loose<'_>>, format: &'static str, path: &str| match v {
            Some(Loose::Str(s)) => Ok(s.to_string()),
            Some(other) => Err(SbomError::Invalid {
                format,
                path: path.into(),
                msg: format!("must be a string, found {}", other.type_name()),
            }),
            None => Err(SbomError::Invalid {
                format,
                path: path.into(),
                msg: "required field missing".into(),
            }),
        };
        let kind = |r: Result<String, SbomError>, f: fn(String) -> Kind| match r {
            Ok(v) => f(v),
            Err(e) => Kind::Error(e),
        };
        match &self.bom_format {
            Some(Loose::Str(s)) if s == "CycloneDX" => {
                return kind(
                    string_field(&self.spec_version, "CycloneDX", "specVersion"),
                    Kind::CycloneDx,
                );
            }
            Some(Loose::Str(s)) => {
                return Kind::Error(SbomError::UnknownFormat(format!(
                    "bomFormat is {:?}, expected \"CycloneDX\"",
                    s.chars().take(40).collect::<String>()
                )));
            }
            Some(other) => {
                return Kind::Error(SbomError::Invalid {
                    format: "CycloneDX",
                    path: "bomFormat".into(),
                    msg: format!(
                        "must be the string \"CycloneDX\", found {}",
                        other.type_name()
                    ),
                });
            }
            None => {}
        }
        if self.spdx_version.is_some() {
            return kind(
                string_field(&self.spdx_version, "SPDX", "spdxVersion"),
                Kind::Spdx,
            );
        }
        if self.has_artifacts && (self.schema.is_some() || self.has_descriptor) {
            let version = match &self.schema {
                Some(Loose::Map { version: Some(v) }) => Ok(v.to_string()),
                Some(Loose::Map { version: None }) | None => Err(SbomError::Invalid {
                    format: "Syft",
                    path: "schema.version".into(),
                    msg: "required field missing or not a string".into(),
                }),
                Some(other) => Err(SbomError::Invalid {
                    format: "Syft",
                    path: "schema".into(),
                    msg: format!("must be an object, found {}", other.type_name()),
                }),
            };
            return kind(version, Kind::Syft);
        }
        if self.spec_version.is_some() || self.has_components {
            return Kind::Error(SbomError::Invalid {
                format: "CycloneDX",
                path: "bomFormat".into(),
                msg: "required field missing (the document has specVersion/components, so it looks like CycloneDX)".into(),
            });
        }
        let mut found = self
            .keys
            .iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.key_count > self.keys.len() {
            found.push_str(", …");
        }
        if found.is_empty() {
            found = "none".into();
        }
        Kind::Error(SbomError::UnknownFormat(format!(
            "a JSON object without bomFormat (CycloneDX), spdxVersion (SPDX) or artifacts+schema (Syft); top-level keys: {found}"
        )))
    }
}
