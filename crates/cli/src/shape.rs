//! The model's settings on the command line (`train` and `bench`), and the combinations that
//! make no sense said as such before anything runs.

use anyhow::{Result, bail};
use clap::Args;
use shige_core::{Cell, ModelShape};

use crate::{count, number};

fn parse_cell(s: &str) -> Result<Cell, String> {
    Cell::parse(s).ok_or_else(|| format!("unknown cell {s:?}: use rnn, lstm, gru or transformer"))
}

/// The hidden size when `--hidden` is not given.
const DEFAULT_HIDDEN: usize = 256;

/// The model's shape (vocabulary size comes from the corpus).
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// rnn (tanh), lstm or gru with PyTorch's semantics, or transformer (nanoGPT's GPT)
    #[arg(long, default_value = "gru", value_parser = parse_cell)]
    pub cell: Cell,
    /// Embedding width (the Transformer's n_embd, its only width)
    #[arg(long, default_value_t = 128, value_parser = count(1, shige_core::model::MAX_WIDTH))]
    pub embedding: usize,
    /// Recurrent state width [default: 256] (the Transformer has none)
    #[arg(long, value_parser = count(1, shige_core::model::MAX_WIDTH))]
    pub hidden: Option<usize>,
    /// Recurrent layers, or the Transformer's blocks (n_layer)
    #[arg(long, default_value_t = 1, value_parser = count(1, shige_core::model::MAX_LAYERS))]
    pub layers: usize,
    /// Dropout while training, in [0, 1): between recurrent layers, or the Transformer's
    /// (nanoGPT's: embeddings, attention weights, residual branches)
    #[arg(long, default_value_t = 0.0, value_parser = number(0.0, 1.0, false))]
    pub dropout: f64,
    /// Tie the output layer to the embedding (h is projected to the embedding size); the
    /// Transformer is always tied
    #[arg(long)]
    pub tied: bool,
    /// The Transformer's attention heads (n_head), which split --embedding [default: 4]
    #[arg(long, value_parser = count(1, shige_core::model::MAX_WIDTH))]
    pub heads: Option<usize>,
    /// The Transformer's Linear and LayerNorm biases (nanoGPT's bias=True; the default)
    #[arg(long, overrides_with = "no_bias")]
    pub bias: bool,
    /// The Transformer without Linear and LayerNorm biases (nanoGPT's bias=False)
    #[arg(long, overrides_with = "bias")]
    pub no_bias: bool,
}

impl ModelArgs {
    /// The shape asked for, or what is wrong with the combination.
    pub fn shape(&self) -> Result<ModelShape> {
        let transformer = self.cell == Cell::Transformer;
        if transformer && self.hidden.is_some() {
            bail!("--hidden is a recurrent cell's setting: the Transformer's width is --embedding (n_embd)");
        }
        if !transformer && self.heads.is_some() {
            bail!("--heads is a Transformer setting (--cell transformer); the {} has no attention", self.cell.name());
        }
        if !transformer && (self.bias || self.no_bias) {
            bail!("--bias / --no-bias are Transformer settings (--cell transformer); the {} always has biases", self.cell.name());
        }
        let shape = ModelShape::new()
            .with_cell(self.cell)
            .with_embedding(self.embedding)
            .with_hidden(self.hidden.unwrap_or(DEFAULT_HIDDEN))
            .with_layers(self.layers)
            .with_dropout(self.dropout)
            .with_tied(self.tied)
            .with_bias(!self.no_bias);
        Ok(match self.heads {
            Some(heads) => shape.with_heads(heads),
            None => shape,
        })
    }

    /// The sizes in words ("gru embedding 128 hidden 256 layers 1").
    pub fn describe(&self) -> String {
        match self.cell {
            Cell::Transformer => format!(
                "transformer n_embd {} n_head {} n_layer {}{}",
                self.embedding,
                self.heads.unwrap_or(ModelShape::new().heads),
                self.layers,
                if self.no_bias { " no bias" } else { "" }
            ),
            cell => format!("{} embedding {} hidden {} layers {}", cell.name(), self.embedding, self.hidden.unwrap_or(DEFAULT_HIDDEN), self.layers),
        }
    }
}
