//! What a model is before it has weights: its cell, its sizes, their limits and checks, and the
//! equal-parameter helper the lab's races use.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use super::PoemModelConfig;

/// The sequence model between the embedding and the output layer: a recurrent cell as PyTorch
/// defines it, or nanoGPT's Transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// `nn.RNN` (tanh): h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    Rnn,
    /// `nn.LSTM`, gates i, f, g, o
    Lstm,
    /// `nn.GRU`, gates r, z, n (reset applied after the hidden projection)
    #[default]
    Gru,
    /// nanoGPT's `GPT`: learned positions, pre-LayerNorm blocks of causal self-attention and a
    /// GELU MLP, the output layer tied to the embedding (`transformer`)
    Transformer,
}

impl Cell {
    pub const ALL: [Cell; 4] = [Cell::Rnn, Cell::Lstm, Cell::Gru, Cell::Transformer];
    /// The cells with a recurrent state (`recurrent`).
    pub const RECURRENT: [Cell; 3] = [Cell::Rnn, Cell::Lstm, Cell::Gru];

    /// Gate blocks stacked in the weights (PyTorch's `gate_size / hidden_size`); the
    /// Transformer has none.
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Transformer => 0,
        }
    }

    pub fn is_recurrent(self) -> bool {
        self != Cell::Transformer
    }

    /// The PyTorch module's name, which prefixes its parameters (`gru.weight_ih_l0`,
    /// nanoGPT's `transformer.h.0.attn.c_attn.weight`).
    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
            Cell::Transformer => "transformer",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Cell::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Largest embedding or hidden size, and most layers, a model may have. The checkpoint
/// loader, the CLI and the browser all enforce these.
pub const MAX_WIDTH: usize = 4096;
pub const MAX_LAYERS: usize = 8;
/// Most parameters a model may have (1 GiB of f32 weights; training keeps about four copies).
pub const MAX_PARAMS: usize = 1 << 28;
/// Longest context a Transformer may have (its learned positions): the trainer's sequence cap
/// (`training::MAX_SEQ_LEN`) is the same.
pub const MAX_BLOCK_SIZE: usize = 1024;

/// The model's size, chosen before the vocabulary is known.
#[derive(Config, Debug, PartialEq)]
pub struct ModelShape {
    /// The token embedding's width: the Transformer's `n_embd`, its only width.
    #[config(default = 128)]
    pub embedding: usize,
    /// The recurrent state's width. The Transformer has none and ignores it.
    #[config(default = 256)]
    pub hidden: usize,
    /// Recurrent layers, or the Transformer's blocks (`n_layer`).
    #[config(default = 1)]
    pub layers: usize,
    /// Active only while training. Recurrent cells: between layers (as PyTorch's `dropout`).
    /// The Transformer: nanoGPT's, on the embeddings, the attention weights and each residual
    /// branch.
    #[config(default = 0.0)]
    pub dropout: f64,
    #[config(default = "Cell::Gru")]
    pub cell: Cell,
    /// Tie the output layer to the embedding: h is projected to the embedding size and the
    /// transposed embedding scores the vocabulary (fewer parameters, a cheaper output layer).
    /// The Transformer is always tied (nanoGPT's `lm_head` is `wte`), whatever this says.
    #[config(default = false)]
    pub tied: bool,
    /// The Transformer's attention heads (`n_head`); they split `embedding`.
    #[config(default = 4)]
    pub heads: usize,
    /// The Transformer's Linear and LayerNorm biases (nanoGPT's `bias`). Recurrent cells always
    /// have theirs (PyTorch's `bias=True`).
    #[config(default = true)]
    pub bias: bool,
    /// The Transformer's context (`block_size`, its learned positions): the trainer sets it to
    /// the run's sequence cap (`TrainConfig::max_seq_len`). Unused by the recurrent cells.
    #[config(default = 96)]
    pub block_size: usize,
}

impl ModelShape {
    /// Checks the sizes before anything is allocated.
    pub fn validate(&self, vocab_size: usize) -> Result<(), String> {
        let widths: &[(&str, usize)] = match self.cell {
            Cell::Transformer => &[("embedding", self.embedding)],
            _ => &[("embedding", self.embedding), ("hidden", self.hidden)],
        };
        for &(setting, width) in widths {
            if !(1..=MAX_WIDTH).contains(&width) {
                return Err(format!("{setting} must be between 1 and {MAX_WIDTH} (got {width})"));
            }
        }
        if !(1..=MAX_LAYERS).contains(&self.layers) {
            return Err(format!("layers must be between 1 and {MAX_LAYERS} (got {})", self.layers));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(format!("dropout must be in [0, 1) (got {})", self.dropout));
        }
        if self.cell == Cell::Transformer {
            if !(1..=self.embedding).contains(&self.heads) {
                return Err(format!("heads must be between 1 and the embedding size {} (got {})", self.embedding, self.heads));
            }
            if self.embedding % self.heads != 0 {
                return Err(format!(
                    "the embedding size ({}) must be divisible by the number of heads ({}): each head takes an equal share",
                    self.embedding, self.heads
                ));
            }
            if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
                return Err(format!("the block size must be between 1 and {MAX_BLOCK_SIZE} (got {})", self.block_size));
            }
        } else if !self.bias {
            return Err(format!("the {} always has biases: turning them off is a Transformer setting", self.cell.name().to_uppercase()));
        }
        let params = PoemModelConfig::new(vocab_size, self.clone()).num_params();
        if params > MAX_PARAMS {
            return Err(format!("the model would have {params} parameters; the limit is {MAX_PARAMS}"));
        }
        Ok(())
    }

    /// The hidden size at which this shape (with its cell) has about `params` parameters:
    /// the "same parameter budget" helper for comparing cells. The Transformer has no hidden
    /// size: this returns the embedding width `with_budget` picks for it.
    pub fn hidden_for_budget(&self, vocab_size: usize, params: usize) -> usize {
        let shape = self.with_budget(vocab_size, params);
        if self.cell == Cell::Transformer { shape.embedding } else { shape.hidden }
    }

    /// This shape resized to about `params` parameters by its width: `hidden` for a recurrent
    /// cell, `embedding` (a multiple of `heads`) for the Transformer.
    pub fn with_budget(&self, vocab_size: usize, params: usize) -> ModelShape {
        // The width's step: a Transformer's embedding must split evenly into its heads.
        let (step, resize): (usize, fn(&ModelShape, usize) -> ModelShape) = match self.cell {
            Cell::Transformer => (self.heads.max(1), |s, w| s.clone().with_embedding(w)),
            _ => (1, |s, w| s.clone().with_hidden(w)),
        };
        let count = |units: usize| PoemModelConfig::new(vocab_size, resize(self, units * step)).num_params();
        // The count grows with the width: binary search for the closest size.
        let (mut lo, mut hi) = (1, (MAX_WIDTH / step).max(1));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if count(mid) < params { lo = mid + 1 } else { hi = mid }
        }
        if lo > 1 && params.abs_diff(count(lo - 1)) < params.abs_diff(count(lo)) {
            lo -= 1;
        }
        resize(self, lo * step)
    }
}
