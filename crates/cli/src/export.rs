//! `shige export`: a checkpoint's weights under PyTorch's names (nanoGPT's for the Transformer)
//! with `config.json` and `vocab.json`; and `shige logits` (hidden), the model's logits over
//! a few texts as JSON, for the PyTorch checks in `bench/` to compare against.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use shige_core::Checkpoint;
use shige_core::data::vocab::BOS;

use crate::{read_checkpoint, write_atomically};

#[derive(Args)]
pub struct ExportArgs {
    /// Checkpoint written by `shige train` (or a compact copy)
    #[arg(long)]
    model: PathBuf,
    /// Folder for model.safetensors, config.json and vocab.json
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    write_export(&ckpt, &args.out)?;
    println!("exported PyTorch weights to {}", args.out.display());
    Ok(())
}

/// Writes `model.safetensors`, `vocab.json` and `config.json` into `dir`.
pub fn write_export(ckpt: &Checkpoint, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the export folder {}", dir.display()))?;
    write_atomically(&dir.join("model.safetensors"), &ckpt.to_pytorch_safetensors())?;
    write_atomically(&dir.join("vocab.json"), serde_json::to_string(&ckpt.vocab)?.as_bytes())?;
    write_atomically(&dir.join("config.json"), serde_json::to_string_pretty(&ckpt.pytorch_config())?.as_bytes())
}

#[derive(Args)]
pub struct LogitsArgs {
    /// Checkpoint written by `shige train`
    #[arg(long)]
    model: PathBuf,
    /// A text to read after BOS (repeat for more); every character must be in the vocabulary
    #[arg(long, required = true)]
    text: Vec<String>,
}

/// Prints `{"texts": [{"text", "tokens", "logits": [[V] per position]}]}`: the logits after BOS
/// and each character, from one forward pass over the whole text.
pub fn run_logits(args: LogitsArgs) -> Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let device = burn::tensor::Device::flex();
    let model = ckpt.model.from_params(ckpt.train_state(&device).params);
    let mut texts = Vec::new();
    for text in &args.text {
        let mut tokens = vec![BOS as i32];
        for c in text.chars() {
            let id = ckpt.vocab.id(c).with_context(|| format!("{c:?} is not in the model's vocabulary"))?;
            tokens.push(id as i32);
        }
        let t = tokens.len();
        let input = burn::tensor::Tensor::<2, burn::tensor::Int>::from_data(burn::tensor::TensorData::new(tokens.clone(), [1, t]), &device);
        let (logits, _) = model.forward(input, None);
        let values = pollster::block_on(shige_core::readback::read_values(logits))?;
        let rows: Vec<&[f32]> = values.chunks_exact(ckpt.model.vocab_size).collect();
        texts.push(serde_json::json!({ "text": text, "tokens": tokens, "logits": rows }));
    }
    println!("{}", serde_json::json!({ "texts": texts }));
    Ok(())
}
