//! `shige prepare`: the app's default corpus from the npm package `chinese-poetry`
//! (全唐诗 as JSON, traditional characters), converted to simplified with OpenCC.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use ferrous_opencc::{OpenCC, config::BuiltinConfig};
use serde::Deserialize;

use crate::write_atomically;

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
    #[arg(long, default_value_t = 1, value_parser = crate::count(1, 1_000_000))]
    every: usize,
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
    // poet.tang.0.json, poet.tang.1000.json, ...: keep the collection's order.
    files.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.rsplit('.').next()?.parse::<u64>().ok()));
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
