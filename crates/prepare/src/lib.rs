//! `shige prepare` (and set-up's `shige-prepare`): the app's default corpus from the npm package
//! `chinese-poetry` (全唐诗 as JSON, traditional characters), converted to simplified with OpenCC;
//! with `--era song`, poems of 全宋诗 for training or a held-out set.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ferrous_opencc::{OpenCC, config::BuiltinConfig};
use serde::Deserialize;


#[derive(Args)]
pub struct PrepareArgs {
    /// The package's folder of Tang poems (node_modules/chinese-poetry/dist/quantangshi)
    #[arg(long)]
    from: PathBuf,
    /// Output file (`title:content` per line, simplified Chinese)
    #[arg(long)]
    out: PathBuf,
    /// Which poems: tang (全唐诗, the app's corpus) or song (全宋诗, a held-out set of another era)
    #[arg(long, default_value = "tang", value_parser = ["tang", "song"])]
    era: String,
    /// Keep every n-th poem only (a smaller sample spread over the whole collection)
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    every: usize,
    /// Which files: all, held-out (every 20th file of the collection, for a held-out set of
    /// other poets) or train (the others)
    #[arg(long, default_value = "all", value_parser = ["all", "train", "held-out"])]
    part: String,
}

/// The Song files `poet.song.230000.json`–`poet.song.254000.json` are kept for a check from
/// outside the project: never trained, tuned or evaluated on, so `prepare` never reads them.
const RESERVED_SONG: std::ops::RangeInclusive<u64> = 230_000..=254_000;

/// Every this many files (by their number / 1000) goes to the `held-out` part.
const HELD_OUT_EVERY: u64 = 20;

/// The number in `poet.ERA.N.json`.
fn file_number(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.rsplit('.').next()?.parse().ok()
}

/// Whether `prepare` may read this file for `era` and `part`.
fn wanted(era: &str, part: &str, number: u64) -> bool {
    if era == "song" && RESERVED_SONG.contains(&number) {
        return false;
    }
    let held_out = (number / 1000) % HELD_OUT_EVERY == 0;
    match part {
        "train" => !held_out,
        "held-out" => held_out,
        _ => true,
    }
}

#[derive(Deserialize)]
struct JsonPoem {
    #[serde(default)]
    title: String,
    #[serde(default)]
    paragraphs: Vec<String>,
}

pub fn run(args: PrepareArgs) -> Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.from)
        .with_context(|| format!("cannot list {}", args.from.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("poet.{}.", args.era)) && n.ends_with(".json")))
        .collect();
    if files.is_empty() {
        bail!("no poet.{}.*.json files in {}", args.era, args.from.display());
    }
    let before = files.len();
    files.retain(|p| file_number(p).is_some_and(|n| wanted(&args.era, &args.part, n)));
    if files.is_empty() {
        bail!("no poet.{}.*.json files of part {} in {}", args.era, args.part, args.from.display());
    }
    if args.era == "song" {
        eprintln!("the reserved files poet.song.230000–254000 are never read");
    }
    eprintln!("{} of {before} files ({} part)", files.len(), args.part);
    // poet.tang.0.json, poet.tang.1000.json, ...: keep the collection's order.
    files.sort_by_key(|p| file_number(p));
    let t2s = OpenCC::from_config(BuiltinConfig::T2s).context("cannot load the OpenCC T2S dictionaries")?;
    let mut out = String::new();
    let (mut count, mut seen) = (0, 0usize);
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let poems: Vec<JsonPoem> = serde_json::from_str(&text).with_context(|| format!("{} is not the expected JSON", file.display()))?;
        for poem in poems {
            let content: String = poem.paragraphs.concat();
            let title = poem.title.replace([':', '\n'], " ");
            if content.trim().is_empty() {
                continue;
            }
            seen += 1;
            if (seen - 1) % args.every != 0 {
                continue;
            }
            let _ = writeln!(out, "{}:{}", t2s.convert(title.trim()), t2s.convert(content.trim()));
            count += 1;
        }
    }
    write_atomically(&args.out, out.as_bytes())?;
    eprintln!("wrote {count} poems from {} files to {}", files.len(), args.out.display());
    Ok(())
}

/// Writes through a temporary file and a rename, so a crash never leaves half a checkpoint.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Where `write_atomically` writes `path` first: beside it (a rename never crosses file
/// systems), hidden, and named after the whole file name, so `a.ckpt` and `a.f16` never share
/// one (`with_extension` gave both `a.tmp`).
fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or(path.as_os_str()));
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_differing_only_in_extension_get_their_own_temp_files() {
        let dir = std::env::temp_dir().join(format!("shige-atomic-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ckpt, f16) = (dir.join("a.ckpt"), dir.join("a.f16"));
        // `with_extension("tmp")` gave both `a.tmp`: a save of one could rename the other's bytes.
        assert_ne!(temp_path(&ckpt), temp_path(&f16));
        assert_eq!(temp_path(&ckpt), dir.join(".a.ckpt.tmp"));
        assert_eq!(temp_path(Path::new("model")), Path::new(".model.tmp"));

        // The temp file of one is left half-written (a crash) while the other is saved.
        std::fs::write(temp_path(&ckpt), b"half a checkpoint").unwrap();
        write_atomically(&f16, b"compact").unwrap();
        write_atomically(&ckpt, b"full").unwrap();
        assert_eq!(std::fs::read(&f16).unwrap(), b"compact");
        assert_eq!(std::fs::read(&ckpt).unwrap(), b"full");
        let mut left: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["a.ckpt", "a.f16"], "temp files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reserved_song_files_are_never_read_and_parts_do_not_overlap() {
        for n in (0..=260_000).step_by(1000) {
            let reserved = (230_000..=254_000).contains(&n);
            assert_eq!(wanted("song", "all", n), !reserved, "song {n}");
            assert!(!(wanted("song", "train", n) && wanted("song", "held-out", n)), "song {n} in both parts");
            assert_eq!(wanted("song", "train", n) || wanted("song", "held-out", n), !reserved, "song {n}");
            assert!(wanted("tang", "all", n));
        }
        assert!(wanted("song", "held-out", 0) && wanted("song", "held-out", 220_000) && !wanted("song", "held-out", 240_000));
        assert!(!wanted("song", "train", 20_000) && wanted("song", "train", 21_000));
    }

    #[test]
    fn prepare_converts_to_simplified_and_never_reads_the_reserved_song_files() {
        let dir = std::env::temp_dir().join(format!("shige-prepare-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let poem = |title: &str, line: &str| format!(r#"[{{"title":"{title}","paragraphs":["{line}"]}}]"#);
        std::fs::write(dir.join("poet.song.0.json"), poem("春曉", "春眠不覺曉，處處聞啼鳥。")).unwrap();
        std::fs::write(dir.join("poet.song.1000.json"), poem("夜雨", "夜來風雨聲，花落知多少。")).unwrap();
        std::fs::write(dir.join("poet.song.230000.json"), poem("保留", "不可讀此詩，不可讀此詩。")).unwrap();
        std::fs::write(dir.join("poet.tang.0.json"), poem("唐", "白日依山盡，黃河入海流。")).unwrap();
        let prepared = |part: &str| {
            let out = dir.join(format!("{part}.txt"));
            let args = PrepareArgs { from: dir.clone(), out: out.clone(), era: "song".into(), every: 1, part: part.into() };
            run(args).unwrap();
            std::fs::read_to_string(out).unwrap()
        };
        assert_eq!(prepared("all"), "春晓:春眠不觉晓，处处闻啼鸟。\n夜雨:夜来风雨声，花落知多少。\n");
        assert_eq!(prepared("held-out"), "春晓:春眠不觉晓，处处闻啼鸟。\n");
        assert_eq!(prepared("train"), "夜雨:夜来风雨声，花落知多少。\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
