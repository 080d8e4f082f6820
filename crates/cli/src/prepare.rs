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
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("poet.tang.") && n.ends_with(".json")))
        .collect();
    if files.is_empty() {
        bail!("no poet.tang.*.json files in {}", args.from.display());
    }
    // poet.tang.0.json, poet.tang.1000.json, ...: keep the collection's order.
    files.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.rsplit('.').next()?.parse::<u64>().ok()));
    let t2s = OpenCC::from_config(BuiltinConfig::T2s).context("cannot load the OpenCC T2S dictionaries")?;
    let mut out = String::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let poems: Vec<JsonPoem> = serde_json::from_str(&text).with_context(|| format!("{} is not the expected JSON", file.display()))?;
        for poem in poems {
            let content: String = poem.paragraphs.concat();
            let title = poem.title.replace([':', '\n'], " ");
            if content.trim().is_empty() {
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
