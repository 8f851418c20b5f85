//! Languages as BCP 47 tags (RFC 5646, FHIR's `urn:ietf:bcp:47`), from the ISO 639 codes or
//! names an HSDS directory gives (`language.code` is ISO 639-1 or 639-3): `data/languages.json`.

use serde::Deserialize;
use serde_json::Value;

/// A patient's preferred language (or their first): its BCP 47 tag when coded, and its
/// name in words (the record's text or display, else the tag's name). `None` when the
/// record says no language.
pub fn of_patient(p: &Value) -> Option<(Option<String>, String)> {
    let comms = p["communication"].as_array()?;
    let c = comms
        .iter()
        .find(|c| c["preferred"] == true)
        .or_else(|| comms.first())?;
    let tag = c["language"]["coding"][0]["code"]
        .as_str()
        .map(str::to_string);
    let words = c["language"]["text"]
        .as_str()
        .or_else(|| c["language"]["coding"][0]["display"].as_str())
        .map(str::to_string)
        .or_else(|| tag.as_deref().map(name))?;
    Some((tag, words))
}

#[derive(Debug, Clone, Deserialize)]
struct Language {
    tag: String,
    #[serde(default)]
    codes: Vec<String>,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Languages {
    languages: Vec<Language>,
}

fn shipped() -> &'static Languages {
    static L: std::sync::OnceLock<Languages> = std::sync::OnceLock::new();
    L.get_or_init(|| {
        serde_json::from_str(include_str!("../../data/languages.json"))
            .expect("data/languages.json holds the languages")
    })
}

/// Whether `tag` is shaped like a BCP 47 language tag: a primary language subtag of 2 to 3
/// letters, then subtags of 1 to 8 letters or digits, joined by `-`.
fn well_formed(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The BCP 47 tag for an ISO 639 code or a BCP 47 tag: the ISO 639-1 code where one exists
/// ("spa" → "es"), the primary subtag lower case ("ES-mx" → "es-mx"); `None` if `code` is
/// not shaped like a language tag.
pub fn tag_for_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_lowercase();
    if !well_formed(&code) {
        return None;
    }
    let (primary, rest) = match code.split_once('-') {
        Some((p, r)) => (p.to_string(), Some(r.to_string())),
        None => (code.clone(), None),
    };
    let primary = shipped()
        .languages
        .iter()
        .find(|l| l.codes.contains(&primary))
        .map(|l| l.tag.clone())
        .unwrap_or(primary);
    Some(match rest {
        Some(r) => format!("{primary}-{r}"),
        None => primary,
    })
}

/// The tag for a language named in words ("Haitian Creole" → "ht"), if Tend knows it.
pub fn tag_for_name(name: &str) -> Option<String> {
    let name = name.trim().to_lowercase();
    shipped()
        .languages
        .iter()
        .find(|l| {
            l.name.to_lowercase() == name || l.aliases.iter().any(|a| a.to_lowercase() == name)
        })
        .map(|l| l.tag.clone())
}

/// A tag's language in English ("es-MX" → "Spanish"); the tag itself when Tend does not
/// know it.
pub fn name(tag: &str) -> String {
    let primary = primary(tag);
    shipped()
        .languages
        .iter()
        .find(|l| l.tag == primary)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| tag.to_string())
}

/// A tag's primary language subtag, lower case ("pt-BR" → "pt").
pub fn primary(tag: &str) -> String {
    tag.split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_s_preferred_language_in_words() {
        let p = serde_json::json!({"communication": [
            {"language": {"coding": [{"code": "en"}]}},
            {"language": {"coding": [{"code": "es"}]}, "preferred": true}]});
        let (tag, words) = of_patient(&p).unwrap();
        assert_eq!(tag.as_deref(), Some("es"));
        assert_eq!(words, name("es"));
        let said = serde_json::json!({"communication": [{"language": {"text": "Haitian Creole"}}]});
        assert_eq!(
            of_patient(&said),
            Some((None, "Haitian Creole".to_string()))
        );
        assert_eq!(of_patient(&serde_json::json!({})), None);
    }

    #[test]
    fn codes_and_names_become_bcp47_tags() {
        assert_eq!(tag_for_code("spa").as_deref(), Some("es"));
        assert_eq!(tag_for_code("ES").as_deref(), Some("es"));
        assert_eq!(tag_for_code("por-BR").as_deref(), Some("pt-br"));
        assert_eq!(tag_for_code("hat").as_deref(), Some("ht"));
        // A well-formed tag Tend does not list is kept.
        assert_eq!(tag_for_code("nv").as_deref(), Some("nv"));
        assert_eq!(tag_for_code("e"), None);
        assert_eq!(tag_for_code("english"), None);
        assert_eq!(tag_for_code("es_MX"), None);
        assert_eq!(tag_for_name(" kreyòl ").as_deref(), Some("ht"));
        assert_eq!(tag_for_name("Klingon"), None);
        assert_eq!(name("es-MX"), "Spanish");
        assert_eq!(name("nv"), "nv");
    }

    #[test]
    fn every_listed_tag_is_well_formed_and_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for l in &shipped().languages {
            assert!(well_formed(&l.tag), "{}", l.tag);
            assert!(seen.insert(l.tag.clone()), "{} twice", l.tag);
            for c in &l.codes {
                assert!(seen.insert(c.clone()), "{c} twice");
            }
        }
    }
}
