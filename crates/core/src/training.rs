//! The training loop's pieces: masked loss, Adam with global-norm clipping, one `train_step`
//! shared by the CLI and the browser, and held-out evaluation.
//!
//! Parameters and optimizer moments live as plain tensors; each step wraps the parameters
//! for autodiff, so the optimizer state can be read back asynchronously (the browser cannot
//! read tensors synchronously) and saved by parameter name.

use burn::config::Config;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor};

use crate::corpus::{CleaningConfig, Corpus};
use crate::data::{Batch, encode_poems, epoch_plan, eval_plan};
use crate::model::{ModelShape, PoemModel, PoemModelConfig};
use crate::tokenizer::Vocab;

#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    #[config(default = 32)]
    pub batch_size: usize,
    /// Longest training sequence (BOS + characters); longer poems are truncated.
    #[config(default = 96)]
    pub max_seq_len: usize,
    #[config(default = 2e-3)]
    pub learning_rate: f64,
    /// Largest global L2 norm of the gradients; 0 turns clipping off.
    #[config(default = 1.0)]
    pub grad_clip: f64,
    #[config(default = 0.9)]
    pub beta1: f64,
    #[config(default = 0.999)]
    pub beta2: f64,
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Seeds weight initialisation and the batch order.
    #[config(default = 42)]
    pub seed: u64,
    /// Characters rarer than this in the training split become UNK.
    #[config(default = 2)]
    pub min_char_freq: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(
        "the loss became {loss} at step {step}; the model was restored to step {restored_step}. \
         Lower the learning rate or the gradient clip and continue"
    )]
    NonFiniteLoss { step: u64, loss: f32, restored_step: u64 },
    #[error("reading a result back from the device failed: {0}")]
    Read(String),
    #[error("there are no training poems: load a corpus to train on")]
    NoData,
    #[error("there are no held-out poems to measure the model on")]
    NoValidation,
}

/// Mean cross-entropy over real target tokens; PAD positions (mask 0) never count.
///
/// - `logits`: `[B, T, V]`, `targets`: `[B, T]`, `mask`: `[B, T]` -> `[1]`
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    mask: Tensor<2>,
    tokens: usize,
) -> Tensor<1> {
    summed_nll(logits, targets, mask).div_scalar(tokens.max(1) as f32)
}

/// Sum of negative log-likelihoods over unmasked targets: `[1]`.
fn summed_nll(logits: Tensor<3>, targets: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<1> {
    let [batch, t_len, vocab] = logits.dims();
    let n = batch * t_len;
    let log_probs = log_softmax(logits.reshape([n, vocab]), 1); // [B*T, V]
    let picked = log_probs.gather(1, targets.reshape([n, 1])).reshape([n]); // [B*T]
    (picked * mask.reshape([n])).sum().neg()
}

/// The output layer's summed loss and gradients, worked out by hand: for softmax
/// cross-entropy the gradient of the logits is `softmax - one_hot(target)`, scaled by each
/// position's weight. The `[B*T, V]` logits are the step's largest tensors by far; autodiff's
/// log-softmax and gather pass over them about twice as often as this does.
pub struct OutputLayerGrads {
    /// Sum of the weighted negative log-likelihoods: `[1]`
    pub loss: Tensor<1>,
    /// `[B*T, H]`, `[H, V]`, `[1, V]`
    pub d_hidden: Tensor<2>,
    pub d_weight: Tensor<2>,
    pub d_bias: Tensor<2>,
}

/// - `hidden`: `[N, H]`, `weight`: `[H, V]`, `bias`: `[1, V]`
/// - `targets`: `[N, 1]`; `position_weights`: `[N, 1]` (mask / tokens: PAD positions weigh 0)
pub fn output_layer_grads(
    hidden: Tensor<2>,
    weight: Tensor<2>,
    bias: Tensor<2>,
    targets: Tensor<2, Int>,
    position_weights: Tensor<2>,
) -> OutputLayerGrads {
    let logits = hidden.clone().matmul(weight.clone()) + bias; // [N, V]
    let shifted = logits.clone() - logits.max_dim(1); // [N, V], max 0 per row for a stable exp
    let picked = shifted.clone().gather(1, targets.clone()); // [N, 1]
    let exp = shifted.exp(); // [N, V]
    let sum = exp.clone().sum_dim(1); // [N, 1]
    let nll = sum.clone().log() - picked; // [N, 1]
    let loss = (nll * position_weights.clone()).sum();
    // softmax * w - one_hot * w, with one broadcast multiply and a scatter of -w
    let d_logits = (exp * (position_weights.clone() / sum)).scatter(
        1,
        targets,
        position_weights.neg(),
        IndexingUpdateOp::Add,
    ); // [N, V]
    OutputLayerGrads {
        loss,
        d_hidden: d_logits.clone().matmul(weight.transpose()), // [N, H]
        d_weight: hidden.transpose().matmul(d_logits.clone()), // [H, V]
        d_bias: d_logits.sum_dim(0),                           // [1, V]
    }
}

/// Adam's moments, one pair per parameter, and its step count.
#[derive(Debug, Clone)]
pub struct AdamState {
    pub m: Vec<Tensor<2>>,
    pub v: Vec<Tensor<2>>,
    pub t: u64,
}

/// Everything that changes while training. Tensors are immutable handles, so a clone is a
/// cheap snapshot (used to roll back a step whose loss was not finite).
#[derive(Debug, Clone)]
pub struct TrainState {
    pub params: Vec<Tensor<2>>,
    pub adam: AdamState,
    pub step: u64,
    pub epoch: usize,
    /// Batches of the current epoch already trained on.
    pub batch_in_epoch: usize,
    /// Target characters trained on so far.
    pub tokens: u64,
}

/// Held-out loss in nats per character (EOS included) and its perplexity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub perplexity: f64,
    pub tokens: usize,
}

pub struct Trainer {
    /// How the corpus was cleaned and split (saved so a resume sees the same split).
    pub cleaning: CleaningConfig,
    pub model_config: PoemModelConfig,
    pub config: TrainConfig,
    pub vocab: Vocab,
    pub state: TrainState,
    device: Device,
    train: Vec<Vec<u32>>,
    validation: Vec<Vec<u32>>,
    plan: Vec<Vec<usize>>,
}

impl Trainer {
    /// A fresh model for `corpus`, its vocabulary built from the training split.
    pub fn new(
        corpus: &Corpus,
        shape: ModelShape,
        config: TrainConfig,
        device: &Device,
    ) -> Self {
        let vocab = Vocab::build(&corpus.train, config.min_char_freq);
        let model_config = PoemModelConfig::new(vocab.len(), shape);
        let params = model_config.init(device, config.seed).params();
        let zeros: Vec<Tensor<2>> = params.iter().map(|p| p.zeros_like()).collect();
        let state = TrainState {
            params,
            adam: AdamState { m: zeros.clone(), v: zeros, t: 0 },
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            tokens: 0,
        };
        Self::with_state(corpus, vocab, model_config, config, state, device)
    }

    /// Continues from a saved state (see `checkpoint`).
    pub fn with_state(
        corpus: &Corpus,
        vocab: Vocab,
        model_config: PoemModelConfig,
        config: TrainConfig,
        state: TrainState,
        device: &Device,
    ) -> Self {
        let train = encode_poems(&corpus.train, &vocab);
        let validation = encode_poems(&corpus.validation, &vocab);
        let mut trainer = Trainer {
            cleaning: corpus.config.clone(),
            model_config,
            config,
            vocab,
            state,
            device: device.clone(),
            train,
            validation,
            plan: Vec::new(),
        };
        trainer.plan = trainer.make_plan();
        trainer
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn make_plan(&self) -> Vec<Vec<usize>> {
        let lengths: Vec<usize> = self.train.iter().map(Vec::len).collect();
        epoch_plan(&lengths, self.config.batch_size, self.config.seed, self.state.epoch)
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.plan.len()
    }

    /// Fractional epochs trained so far.
    pub fn epochs_done(&self) -> f64 {
        self.state.epoch as f64 + self.state.batch_in_epoch as f64 / self.plan.len().max(1) as f64
    }

    /// The model with the current weights, without autodiff: for sampling and evaluation.
    pub fn model(&self) -> PoemModel {
        self.model_config.from_params(self.state.params.clone())
    }

    /// A copy of the current weights on another device (e.g. the CPU, to sample from a model
    /// trained on WebGPU), read back asynchronously.
    pub async fn model_on(&self, device: &Device) -> Result<PoemModel, TrainError> {
        let shapes = self.model_config.param_shapes();
        let mut params = Vec::with_capacity(shapes.len());
        for (tensor, (_, shape)) in self.state.params.iter().zip(&shapes) {
            let values = read_values(tensor.clone()).await?;
            params.push(Tensor::from_data(burn::tensor::TensorData::new(values, *shape), device));
        }
        Ok(self.model_config.from_params(params))
    }

    fn next_batch(&mut self) -> Batch {
        if self.state.batch_in_epoch >= self.plan.len() {
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
            self.plan = self.make_plan();
        }
        let indices = &self.plan[self.state.batch_in_epoch];
        self.state.batch_in_epoch += 1;
        let poems: Vec<&[u32]> = indices.iter().map(|&i| self.train[i].as_slice()).collect();
        Batch::new(&poems, self.config.max_seq_len)
    }

    /// One optimisation step on the next batch. Returns the batch's mean loss, still on the
    /// device (reading it is the caller's choice), and the number of target tokens.
    /// The training split must not be empty (`train_steps` checks).
    pub fn train_step(&mut self) -> (Tensor<1>, usize) {
        let batch = self.next_batch();
        let (inputs, targets, mask) = batch.to_tensors(&self.device);
        let n = batch.tokens;
        // Autodiff tracks everything below the output layer, whose gradients are done by hand.
        // `param_shapes` puts the output layer (fc.weight, fc.bias) last.
        let (below, head) = self.state.params.split_at(self.state.params.len() - 2);
        let tracked = below
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .chain(head.iter().cloned())
            .collect();
        let model = self.model_config.from_params(tracked);
        let (hidden, _) = model.hidden_states(inputs, None); // [B*T, H]
        let positions = hidden.dims()[0];
        let out = output_layer_grads(
            hidden.clone().inner(),
            head[0].clone(),
            head[1].clone(),
            targets.reshape([positions, 1]),
            mask.reshape([positions, 1]).div_scalar(n.max(1) as f32),
        );
        // d(sum(hidden * d_hidden)) / d(hidden) = d_hidden: backpropagates the hand-made
        // gradient through the GRU and the embedding.
        let grads = (hidden * out.d_hidden).sum().backward();
        let mut grads: Vec<Tensor<2>> = model.params()[..below.len()]
            .iter()
            .zip(below)
            .map(|(p, plain)| p.grad(&grads).unwrap_or_else(|| plain.zeros_like()))
            .collect();
        grads.extend([out.d_weight, out.d_bias]);
        self.apply_adam(grads);
        self.state.step += 1;
        self.state.tokens += n as u64;
        (out.loss, n)
    }

    /// Adam (bias-corrected) after scaling all gradients so their global norm is at most
    /// `grad_clip`; everything stays on the device.
    fn apply_adam(&mut self, grads: Vec<Tensor<2>>) {
        let c = &self.config;
        let scale = (c.grad_clip > 0.0).then(|| {
            let squared = grads.iter().map(|g| g.clone().square().sum()).reduce(|a, b| a + b);
            let norm = squared.expect("the model has parameters").sqrt();
            norm.clamp_min(c.grad_clip).recip().mul_scalar(c.grad_clip).reshape([1, 1])
        });
        let adam = &mut self.state.adam;
        adam.t += 1;
        let bias1 = 1.0 - c.beta1.powi(adam.t as i32);
        let bias2 = 1.0 - c.beta2.powi(adam.t as i32);
        for (i, grad) in grads.into_iter().enumerate() {
            let grad = match &scale {
                Some(s) => grad * s.clone(),
                None => grad,
            };
            let m = adam.m[i].clone().mul_scalar(c.beta1) + grad.clone().mul_scalar(1.0 - c.beta1);
            let v = adam.v[i].clone().mul_scalar(c.beta2) + grad.square().mul_scalar(1.0 - c.beta2);
            let denom = v.clone().div_scalar(bias2).sqrt().add_scalar(c.epsilon);
            let update = m.clone().mul_scalar(c.learning_rate / bias1) / denom;
            self.state.params[i] = self.state.params[i].clone() - update;
            adam.m[i] = m;
            adam.v[i] = v;
        }
    }

    /// Runs `n` steps and reads their losses back. If a loss is not finite, the state before
    /// these steps is restored and an error says so: a bad step never costs the trained model.
    pub async fn train_steps(&mut self, n: usize) -> Result<Vec<f32>, TrainError> {
        if self.train.is_empty() {
            return Err(TrainError::NoData);
        }
        let snapshot = self.state.clone();
        let mut pending = Vec::with_capacity(n);
        for _ in 0..n {
            pending.push(self.train_step().0);
        }
        let mut losses = Vec::with_capacity(n);
        for (i, loss) in pending.into_iter().enumerate() {
            let value = read_scalar(loss).await?;
            if !value.is_finite() {
                let step = snapshot.step + i as u64 + 1;
                let restored_step = snapshot.step;
                self.restore(snapshot);
                return Err(TrainError::NonFiniteLoss { step, loss: value, restored_step });
            }
            losses.push(value);
        }
        Ok(losses)
    }

    fn restore(&mut self, state: TrainState) {
        let epoch_changed = state.epoch != self.state.epoch;
        self.state = state;
        if epoch_changed {
            self.plan = self.make_plan();
        }
    }

    /// Loss and perplexity on the validation split.
    pub async fn evaluate(&self) -> Result<Evaluation, TrainError> {
        if self.validation.is_empty() {
            return Err(TrainError::NoValidation);
        }
        let model = self.model();
        let lengths: Vec<usize> = self.validation.iter().map(Vec::len).collect();
        let (mut total, mut tokens) = (0.0f64, 0usize);
        for indices in eval_plan(&lengths, self.config.batch_size) {
            let poems: Vec<&[u32]> = indices.iter().map(|&i| self.validation[i].as_slice()).collect();
            let batch = Batch::new(&poems, self.config.max_seq_len);
            let (inputs, targets, mask) = batch.to_tensors(&self.device);
            let (logits, _) = model.forward(inputs, None);
            total += read_scalar(summed_nll(logits, targets, mask)).await? as f64;
            tokens += batch.tokens;
        }
        let loss = total / tokens.max(1) as f64;
        Ok(Evaluation { loss, perplexity: loss.exp(), tokens })
    }
}

/// Reads a tensor's values to the host without blocking (required in the browser).
pub async fn read_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let read_error = |e: &dyn std::fmt::Debug| TrainError::Read(format!("{e:?}"));
    let data = t.into_data_async().await.map_err(|e| read_error(&e))?;
    data.try_to_vec::<f32>().map_err(|e| read_error(&e))
}

/// Reads a one-element tensor without blocking (required in the browser).
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, TrainError> {
    t.into_scalar_async::<f32>().await.map_err(|e| TrainError::Read(format!("{e:?}")))
}
