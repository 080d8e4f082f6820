//! shige-core's 平仄 (from the 平水韵 table, `shige_core::text::meter`) against the chinese-poetry
//! package's own per-character annotations (`dist/strains/json/poet.tang.*.json`, 平/仄 for
//! each character of the Tang poems in `dist/quantangshi`), character by character.
//!
//! The poems are converted to simplified characters with OpenCC, as the built-in corpus is,
//! and each annotated character falls in one class:
//! - **single**: every reading of the character in the table has one tone; it agrees or not;
//! - **multiple**: the table has level and oblique readings; the checker accepts either, so the
//!   annotation always fits (how the annotators read it is counted);
//! - **missing**: the table lacks the character; the checker guesses from Mandarin.
//!
//! Run with `--nocapture` to see the figures; the test asserts ≥ 95 % on the single class over
//! ≥ 5,000 poems. Only Tang files are read (never the reserved Song files).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ferrous_opencc::{OpenCC, config::BuiltinConfig};
use serde_json::Value;
use shige_core::text::meter::{self, Tone};

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/node_modules/chinese-poetry/dist")
}

fn load(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lines(v: &Value, key: &str) -> Option<Vec<String>> {
    v.get(key)?.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
}

#[derive(Default, Debug)]
struct Tally {
    poems: usize,
    single: usize,
    single_agree: usize,
    multiple: usize,
    multiple_level: usize,
    missing: usize,
    missing_agree: usize,
    skipped_lines: usize,
    other: HashMap<(char, char), usize>,
    missing_chars: HashMap<char, usize>,
}

#[test]
fn tones_agree_with_chinese_poetry_strains() {
    let strains_dir = dist().join("strains/json");
    let t2s = OpenCC::from_config(BuiltinConfig::T2s).expect("OpenCC T2S");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&strains_dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", strains_dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("poet.tang.") && n.ends_with(".json")))
        .collect();
    files.sort();
    let mut t = Tally::default();
    for file in &files {
        let poems = load(&dist().join("quantangshi").join(file.file_name().unwrap()));
        let by_id: HashMap<&str, &Value> = poems.iter().filter_map(|p| Some((p.get("id")?.as_str()?, p))).collect();
        for annotated in load(file) {
            let Some(poem) = annotated.get("id").and_then(Value::as_str).and_then(|id| by_id.get(id)) else { continue };
            let (Some(text), Some(marks)) = (lines(poem, "paragraphs"), lines(&annotated, "strains")) else { continue };
            if text.len() != marks.len() {
                continue;
            }
            t.poems += 1;
            for (line, marks) in text.iter().zip(&marks) {
                let simplified: Vec<char> = t2s.convert(line).chars().collect();
                let marks: Vec<char> = marks.chars().collect();
                if simplified.len() != marks.len() || simplified.len() != line.chars().count() {
                    t.skipped_lines += 1;
                    continue;
                }
                for (&c, &m) in simplified.iter().zip(&marks) {
                    let Some(tone) = Tone::from_mark(m) else { continue };
                    let tones = meter::tones(c);
                    if tones.guessed || !tones.known() {
                        t.missing += 1;
                        *t.missing_chars.entry(c).or_default() += 1;
                        t.missing_agree += usize::from(tones.allows(tone));
                    } else if let Some(only) = tones.only() {
                        t.single += 1;
                        if only == tone {
                            t.single_agree += 1;
                        } else {
                            *t.other.entry((c, m)).or_default() += 1;
                        }
                    } else {
                        t.multiple += 1;
                        t.multiple_level += usize::from(tone == Tone::Ping);
                    }
                }
            }
        }
    }
    let all = t.single + t.multiple + t.missing;
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    let accepted = t.single_agree + t.multiple + t.missing_agree;
    println!("strains agreement: {} poems from {} Tang files, {all} annotated characters ({} lines skipped: lengths differ)", t.poems, files.len(), t.skipped_lines);
    println!("  single reading   {:>8} chars ({:.1} %), agree {:.2} %", t.single, pct(t.single, all), pct(t.single_agree, t.single));
    println!("  multiple         {:>8} chars ({:.1} %), accepted by the check; annotated 平 {:.1} %", t.multiple, pct(t.multiple, all), pct(t.multiple_level, t.multiple));
    println!("  missing (guessed){:>8} chars ({:.1} %), guess agrees {:.1} %", t.missing, pct(t.missing, all), pct(t.missing_agree, t.missing));
    println!("  overall: the check accepts the annotation on {:.2} %", pct(accepted, all));
    println!("  disagreements: other (single reading) {}, missing {}", t.single - t.single_agree, t.missing - t.missing_agree);
    let mut other: Vec<_> = t.other.iter().collect();
    other.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = other.iter().take(25).map(|((c, m), n)| format!("{c}:{m} {n}")).collect();
    println!("  most frequent single-reading disagreements (character: annotation count): {}", top.join(", "));
    let mut missing: Vec<_> = t.missing_chars.iter().collect();
    missing.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = missing.iter().take(25).map(|(c, n)| format!("{c} {n}")).collect();
    println!("  most frequent characters missing from the table ({} distinct): {}", missing.len(), top.join(", "));
    assert!(t.poems >= 5000, "only {} poems", t.poems);
    assert!(pct(t.single_agree, t.single) >= 95.0, "single-reading agreement {:.2} %", pct(t.single_agree, t.single));
}
