//! The classroom's views of learning itself: one training step, seen (how much more likely each
//! true next character became, how far each part of the model moved), and how a prediction
//! learns (a fixed line's next-character probabilities, measured as training goes on).
//!
//! The figures are measured here, in the core, so the page only draws them.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor, TensorData};
use serde::Serialize;

use super::TrainError;
use super::trainer::{Trainer, dropout_mask, masked_cross_entropy};
use crate::data::batch::Batch;
use crate::data::vocab::{BOS, EOS, Vocab};
use crate::model::{PoemModel, Probes};
use crate::readback::{ReadError, read_values};

/// Batch rows per forward pass when measuring a batch: bounds the `[rows, T, V]` logits (the
/// browser's memory) while keeping the passes few.
const ROWS_PER_PASS: usize = 4;
/// The poems of a batch a step report shows (the first ones): a class looks at one or two, and
/// each costs two more forward passes in the step it watches.
pub const SHOWN_ROWS: usize = 8;

/// One poem of the batch a step trained on: its characters and, for each target (each
/// character and the closing EOS), the probability the model gave it before and after the step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowChange {
    /// The targets as text; the closing EOS is not a character and is left out (so `before`
    /// and `after` have one more entry than `chars` has characters when the poem ended).
    pub chars: String,
    pub ends: bool,
    pub before: Vec<f32>,
    pub after: Vec<f32>,
    /// Mean loss (nats per target) of this poem before and after.
    pub loss_before: f32,
    pub loss_after: f32,
}

/// A group of parameters the page shows as one part of the model (see `ParamGroup::of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Part {
    /// The character embedding (and, for a Transformer, the positions).
    Embedding,
    /// A recurrent layer's input weights `W_ih`, `b_ih`.
    Input,
    /// A recurrent layer's recurrent weights `W_hh`, `b_hh`.
    Recurrent,
    /// A Transformer block's attention (with its LayerNorm).
    Attention,
    /// A Transformer block's MLP (with its LayerNorm).
    Mlp,
    /// The output layer (the tied projection, the final LayerNorm, the bias).
    Output,
}

/// How one part of the model changed in the step: `‖g‖` before clipping, and `‖Δw‖ / ‖w‖`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamGroup {
    pub part: Part,
    /// The layer (block) for `Input`, `Recurrent`, `Attention` and `Mlp`.
    pub layer: Option<usize>,
    pub params: usize,
    pub grad_norm: f32,
    pub weight_norm: f32,
    pub update_ratio: f32,
}

impl ParamGroup {
    /// The part and layer a parameter belongs to, by its checkpoint name (PyTorch's, or
    /// nanoGPT's for a Transformer).
    pub fn of(name: &str) -> (Part, Option<usize>) {
        let layer_after = |tag: &str| name.split(tag).nth(1).and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
        if name.starts_with("embedding") || name.contains("wte") || name.contains("wpe") {
            (Part::Embedding, None)
        } else if name.contains("_ih_l") {
            (Part::Input, layer_after("_l"))
        } else if name.contains("_hh_l") {
            (Part::Recurrent, layer_after("_l"))
        } else if name.contains(".attn.") || name.contains(".ln_1.") {
            (Part::Attention, layer_after(".h."))
        } else if name.contains(".mlp.") || name.contains(".ln_2.") {
            (Part::Mlp, layer_after(".h."))
        } else {
            (Part::Output, None)
        }
    }
}

/// What one step did: the batch's mean loss, the learning rate it used, the first poems'
/// (`SHOWN_ROWS`) probabilities before and after, and how far each part of the model moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// The step this was (the model's step after it).
    pub step: u64,
    pub loss: f32,
    pub learning_rate: f64,
    pub rows: Vec<RowChange>,
    pub groups: Vec<ParamGroup>,
}

/// The model's guess at one position of a text: the probability of the true next character
/// and its `k` likeliest characters (PAD, UNK and BOS are never written, so never listed).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Guess {
    pub target: String,
    pub probability: f32,
    pub top: Vec<(String, f32)>,
}

impl Trainer {
    /// Trains one step, as `train_step` does, and reports what it did (see `StepReport`). The
    /// gradient norms come from a second pass over the same batch with the same output dropout
    /// (tensor ops), so they are the step's gradients up to rounding.
    pub async fn observed_step(&mut self) -> Result<StepReport, TrainError> {
        if self.data().train.is_empty() {
            return Err(TrainError::NoData);
        }
        let batch = self.upcoming_batch();
        let before_params = self.state.params.clone();
        let shown = batch.batch_size.min(SHOWN_ROWS);
        let before = batch_probabilities(&self.model(), &batch, shown).await?;
        let grad_squares = self.gradient_squares(&batch).await?;
        let loss = self.train_step().await?;
        let after = batch_probabilities(&self.model(), &batch, shown).await?;

        // ‖w‖² and ‖Δw‖² of every parameter tensor, in one read.
        let sums: Vec<Tensor<1>> = before_params
            .iter()
            .zip(&self.state.params)
            .flat_map(|(old, new)| [old.clone().square().sum(), (new.clone() - old.clone()).square().sum()])
            .collect();
        let sums = read_values(Tensor::cat(sums, 0)).await?;
        let mut groups: Vec<ParamGroup> = Vec::new();
        for (i, (name, shape)) in self.model_config.param_shapes().into_iter().enumerate() {
            let (part, layer) = ParamGroup::of(&name);
            let [weight, delta, grad] = [sums[2 * i], sums[2 * i + 1], grad_squares[i]];
            let group = match groups.iter_mut().find(|g| g.part == part && g.layer == layer) {
                Some(g) => g,
                None => {
                    groups.push(ParamGroup { part, layer, params: 0, grad_norm: 0.0, weight_norm: 0.0, update_ratio: 0.0 });
                    groups.last_mut().expect("just pushed")
                }
            };
            // Squares summed now, square roots below.
            group.params += shape[0] * shape[1];
            group.grad_norm += grad;
            group.weight_norm += weight;
            group.update_ratio += delta;
        }
        for g in &mut groups {
            g.grad_norm = g.grad_norm.sqrt();
            g.weight_norm = g.weight_norm.sqrt();
            g.update_ratio = g.update_ratio.sqrt() / g.weight_norm.max(f32::MIN_POSITIVE);
        }
        let rows = rows_of(&batch, &self.vocab, before, after);
        Ok(StepReport { step: self.state.step, loss, learning_rate: self.config.learning_rate, rows, groups })
    }

    /// `‖∂L/∂w‖²` of every parameter for `batch`, with the output dropout the next step draws.
    async fn gradient_squares(&self, batch: &Batch) -> Result<Vec<f32>, TrainError> {
        let device = self.device().clone();
        let (inputs, targets, mask) = batch.to_tensors(&device);
        let tracked: Vec<Tensor<2>> = self.state.params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let model = self.model_config.from_params(tracked.clone());
        let (hidden, _) = model.hidden_states(inputs, None, &mut Probes::default()); // [B*T, K]
        let hidden = match self.config.output_dropout {
            0.0 => hidden,
            p => hidden.clone() * dropout_mask(p, self.config.seed, self.state.step, hidden.dims(), &device).autodiff(),
        };
        let logits = model.output_logits(hidden); // [B*T, V]
        let vocab_size = logits.dims()[1];
        let logits = logits.reshape([batch.batch_size, batch.seq_len, vocab_size]); // [B, T, V]
        let grads = masked_cross_entropy(logits, targets, mask.autodiff(), batch.tokens).backward();
        let squares: Vec<Tensor<1>> = tracked
            .iter()
            .map(|p| p.grad(&grads).map(|g| g.square().sum()).unwrap_or_else(|| Tensor::zeros([1], &device)))
            .collect();
        Ok(read_values(Tensor::cat(squares, 0)).await?)
    }

    /// The model's guesses along `text` (teacher-forced from BOS), `k` alternatives each;
    /// with `ends`, the last guess is of the poem's end (EOS). Characters the vocabulary lacks
    /// are refused, since the model could never have written them.
    pub async fn guesses(&self, text: &str, ends: bool, k: usize) -> Result<Vec<Guess>, GuessError> {
        guesses(&self.model(), &self.vocab, text, ends, k).await
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GuessError {
    #[error("the model's vocabulary has no '{0}'")]
    UnknownChar(char),
    #[error("there is no text to follow")]
    Empty,
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// See `Trainer::guesses`.
pub async fn guesses(model: &PoemModel, vocab: &Vocab, text: &str, ends: bool, k: usize) -> Result<Vec<Guess>, GuessError> {
    let mut tokens = vec![BOS as u32];
    for c in text.chars() {
        tokens.push(vocab.id(c).ok_or(GuessError::UnknownChar(c))? as u32);
    }
    if tokens.len() == 1 {
        return Err(GuessError::Empty);
    }
    if ends {
        tokens.push(EOS as u32);
    }
    let t_len = tokens.len() - 1;
    let device = model.embedding.val().device();
    let inputs: Vec<i32> = tokens[..t_len].iter().map(|&t| t as i32).collect();
    let inputs = Tensor::<2, Int>::from_data(TensorData::new(inputs, [1, t_len]), &device);
    let (logits, _) = model.forward(inputs, None); // [1, T, V]
    let vocab_size = logits.dims()[2];
    let probs = read_values(softmax(logits, 2)).await?; // T * V
    let name = |id: usize| if id == EOS { "EOS".to_string() } else { vocab.char_of(id).map(String::from).unwrap_or_default() };
    Ok((0..t_len)
        .map(|t| {
            let row = &probs[t * vocab_size..(t + 1) * vocab_size];
            let mut order: Vec<usize> = (EOS..vocab_size).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            let target = tokens[t + 1] as usize;
            Guess { target: name(target), probability: row[target], top: order.into_iter().take(k).map(|id| (name(id), row[id])).collect() }
        })
        .collect())
}

/// For the first `b` rows of `batch`, the probability of each real target (the mask's), in
/// order: `ROWS_PER_PASS` rows a forward pass, only `[rows, T]` read back.
async fn batch_probabilities(model: &PoemModel, batch: &Batch, b: usize) -> Result<Vec<Vec<f32>>, ReadError> {
    let t = batch.seq_len;
    let device = model.embedding.val().device();
    let mut out = Vec::with_capacity(b);
    for first in (0..b).step_by(ROWS_PER_PASS) {
        let rows = ROWS_PER_PASS.min(b - first);
        let span = first * t..(first + rows) * t;
        let inputs = Tensor::<2, Int>::from_data(TensorData::new(batch.inputs[span.clone()].to_vec(), [rows, t]), &device);
        let targets = Tensor::<3, Int>::from_data(TensorData::new(batch.targets[span.clone()].to_vec(), [rows, t, 1]), &device);
        let (logits, _) = model.forward(inputs, None); // [rows, T, V]
        let picked = log_softmax(logits, 2).gather(2, targets).exp(); // [rows, T, 1]
        let values = read_values(picked).await?;
        for r in 0..rows {
            let mask = &batch.mask[(first + r) * t..(first + r + 1) * t];
            out.push(values[r * t..(r + 1) * t].iter().zip(mask).filter(|(_, m)| **m > 0.0).map(|(p, _)| *p).collect());
        }
    }
    Ok(out)
}

fn rows_of(batch: &Batch, vocab: &Vocab, before: Vec<Vec<f32>>, after: Vec<Vec<f32>>) -> Vec<RowChange> {
    let t = batch.seq_len;
    let mean_loss = |ps: &[f32]| ps.iter().map(|p| -p.max(f32::MIN_POSITIVE).ln()).sum::<f32>() / ps.len().max(1) as f32;
    before
        .into_iter()
        .zip(after)
        .enumerate()
        .map(|(r, (before, after))| {
            let targets = &batch.targets[r * t..r * t + before.len()];
            let ends = targets.last() == Some(&(EOS as i32));
            let chars = targets.iter().filter(|&&id| id as usize != EOS).filter_map(|&id| vocab.char_of(id as usize)).collect();
            RowChange { chars, ends, loss_before: mean_loss(&before), loss_after: mean_loss(&after), before, after }
        })
        .collect()
}
