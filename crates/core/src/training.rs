//! The training loop's pieces: masked loss, Adam with global-norm clipping, one `train_step`
//! shared by the CLI and the browser, and held-out evaluation.
//!
//! Parameters and optimizer moments live as plain tensors; each step wraps the parameters
//! for autodiff, so the optimizer state can be read back asynchronously (the browser cannot
//! read tensors synchronously) and saved by parameter name.

use std::sync::Arc;

use burn::config::Config;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor};

use crate::corpus::{CleaningConfig, Corpus};
use crate::data::{Batch, EncodedCorpus, epoch_plan, eval_plan};
use crate::model::{ModelShape, PoemModel, PoemModelConfig, Probes};
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
    /// Dropout on the last recurrent layer's output, before the output layer, while training
    /// (as char-rnn does; `ModelShape::dropout` is PyTorch's, between layers). 0 turns it off;
    /// it regularises a model that overfits (train loss far below held-out).
    #[config(default = 0.0)]
    pub output_dropout: f64,
}

/// How the learning rate falls over a run (after its warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    #[default]
    Constant,
    Linear,
    Cosine,
}

impl Decay {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "constant" => Some(Decay::Constant),
            "linear" => Some(Decay::Linear),
            "cosine" => Some(Decay::Cosine),
            _ => None,
        }
    }
}

/// How a run's learning rate moves: a linear warm-up over `warmup_steps`, flat until
/// `decay_from` of the run (0..1, by steps or by time), then `decay` down to `final_ratio` of the
/// peak as the run ends. `decay_from` 0 decays over the whole run (cosine's usual shape); a late
/// one holds the rate and anneals only at the end (warm-up, stable, decay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub decay: Decay,
    pub warmup_steps: u64,
    pub final_ratio: f64,
    pub decay_from: f64,
}

impl Schedule {
    /// The rate at `step` (from 0) when `progress` (0..1) of the run is done.
    pub fn lr(&self, peak: f64, step: u64, progress: f64) -> f64 {
        let warm = if self.warmup_steps == 0 { 1.0 } else { ((step + 1) as f64 / self.warmup_steps as f64).min(1.0) };
        let from = self.decay_from.clamp(0.0, 1.0);
        let p = if from >= 1.0 { 0.0 } else { ((progress - from) / (1.0 - from)).clamp(0.0, 1.0) };
        let r = self.final_ratio;
        let factor = match self.decay {
            Decay::Constant => 1.0,
            Decay::Linear => 1.0 - p * (1.0 - r),
            Decay::Cosine => r + (1.0 - r) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()),
        };
        peak * warm * factor
    }
}

/// Largest batch and sequence cap a run may have: wider than the page's form (512 and 512) and
/// the CLI's recipes (batch 16 to 64, cap 96). Beyond them no machine here could train: a batch
/// of 4096 sequences of 1024 over a 6,000-character vocabulary is already 100 GB of logits.
pub const MAX_BATCH_SIZE: usize = 4096;
pub const MAX_SEQ_LEN: usize = 1024;

/// Longest sequence and largest batch `Trainer::gradient_flow` measures.
pub const GRADIENT_FLOW_STEPS: usize = 48;
pub const GRADIENT_FLOW_BATCH: usize = 16;
/// Most poems in one validation batch. Evaluation materialises `[B*T, V]` logits, which the
/// training step's fused output layer never does: a model trained with batch 3,443 took 2.9 GiB
/// of a tab's 4 to evaluate one batch. The figures are sums over tokens, so the batch split
/// does not change them.
pub const MAX_EVAL_BATCH: usize = 64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(
        "step {step} gave a loss or gradient of {loss}, so it was not applied; the model is \
         still the one from step {restored_step}. Lower the learning rate or the gradient clip and continue"
    )]
    NonFiniteLoss { step: u64, loss: f32, restored_step: u64 },
    #[error("reading a result back from the device failed: {0}")]
    Read(String),
    #[error("there are no training poems: load a corpus to train on")]
    NoData,
    #[error("there are no held-out poems to measure the model on")]
    NoValidation,
    #[error("invalid settings: {0}")]
    Settings(String),
}

impl TrainConfig {
    /// Adam's bias corrections at step `t` (from 1) folded into two factors, as the optimiser
    /// (its tensor ops and both kernels) uses them: the step size lr / (1 − β1ᵗ) and the second moment's scale 1 / (1 − β2ᵗ).
    pub(crate) fn adam_scales(&self, t: u64) -> (f32, f32) {
        let t = t.min(i32::MAX as u64) as i32;
        ((self.learning_rate / (1.0 - self.beta1.powi(t))) as f32, (1.0 / (1.0 - self.beta2.powi(t))) as f32)
    }

    /// Checks every setting is usable before a model is built.
    pub fn validate(&self) -> Result<(), String> {
        let finite_in = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(format!("the batch size must be between 1 and {MAX_BATCH_SIZE} (got {})", self.batch_size));
        }
        if !(2..=MAX_SEQ_LEN).contains(&self.max_seq_len) {
            return Err(format!(
                "the sequence cap must be between 2 (BOS and one character) and {MAX_SEQ_LEN} (got {})",
                self.max_seq_len
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 10.0) {
            return Err(format!("the learning rate must be above 0 and at most 10 (got {})", self.learning_rate));
        }
        if !(finite_in(self.output_dropout, 0.0, 1.0) && self.output_dropout < 1.0) {
            return Err(format!("the output dropout must be in [0, 1) (got {})", self.output_dropout));
        }
        if !finite_in(self.grad_clip, 0.0, 1e6) {
            return Err(format!("the gradient clip must be between 0 and 1e6 (got {})", self.grad_clip));
        }
        if !(finite_in(self.beta1, 0.0, 1.0) && self.beta1 < 1.0 && finite_in(self.beta2, 0.0, 1.0) && self.beta2 < 1.0) {
            return Err("Adam's betas must be in [0, 1)".into());
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err("Adam's epsilon must be above 0".into());
        }
        Ok(())
    }
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

/// A step's new weights and optimizer state, before they are committed.
pub(crate) struct Update {
    pub(crate) params: Vec<Tensor<2>>,
    pub(crate) adam: AdamState,
}

/// Adam's moments, one pair per parameter, and its step count.
#[derive(Debug, Clone)]
pub struct AdamState {
    pub m: Vec<Tensor<2>>,
    pub v: Vec<Tensor<2>>,
    pub t: u64,
}

/// Everything that changes while training. Tensors are immutable handles, so a clone is a
/// cheap snapshot.
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

/// `‖∂L/∂h_t‖` for t = 1..T: for the whole poem's mean loss, and for the last character's
/// loss alone (which shows how far back one prediction's gradient reaches).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientFlow {
    pub whole_poem: Vec<f32>,
    pub last_char: Vec<f32>,
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
    data: Arc<EncodedCorpus>,
    /// The batches of epoch `plan_epoch`.
    plan: Vec<Vec<usize>>,
    plan_epoch: usize,
    /// The gradients' global norm (before clipping) at the last step.
    pub last_grad_norm: f32,
}

impl Trainer {
    /// A fresh model for `corpus`, its vocabulary built from the training split. Settings
    /// are checked before anything is allocated.
    pub fn new(corpus: &Corpus, shape: ModelShape, config: TrainConfig, device: &Device) -> Result<Self, TrainError> {
        config.validate().map_err(TrainError::Settings)?;
        let vocab = Vocab::build(&corpus.train, config.min_char_freq);
        shape.validate(vocab.len()).map_err(TrainError::Settings)?;
        Self::on_data(Arc::new(EncodedCorpus::new(corpus, vocab)), shape, config, device)
    }

    /// A fresh model on an already encoded corpus (shared with other trainers).
    pub fn on_data(data: Arc<EncodedCorpus>, shape: ModelShape, config: TrainConfig, device: &Device) -> Result<Self, TrainError> {
        config.validate().map_err(TrainError::Settings)?;
        shape.validate(data.vocab.len()).map_err(TrainError::Settings)?;
        let model_config = PoemModelConfig::new(data.vocab.len(), shape);
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
        Ok(Self::with_state(data, model_config, config, state, device))
    }

    /// Continues from a saved state (see `checkpoint`) on `data`, encoded with the model's vocabulary.
    pub fn with_state(
        data: Arc<EncodedCorpus>,
        model_config: PoemModelConfig,
        config: TrainConfig,
        state: TrainState,
        device: &Device,
    ) -> Self {
        let mut trainer = Trainer {
            cleaning: data.cleaning.clone(),
            model_config,
            config,
            vocab: data.vocab.clone(),
            state,
            device: device.clone(),
            data,
            plan: Vec::new(),
            plan_epoch: 0,
            last_grad_norm: f32::NAN,
        };
        trainer.plan_epoch = trainer.state.epoch;
        trainer.plan = trainer.make_plan(trainer.plan_epoch);
        trainer
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn make_plan(&self, epoch: usize) -> Vec<Vec<usize>> {
        let lengths: Vec<usize> = self.data.train.iter().map(Vec::len).collect();
        epoch_plan(&lengths, self.config.batch_size, self.config.seed, epoch)
    }

    /// The encoded corpus this trainer learns from.
    pub fn data(&self) -> &Arc<EncodedCorpus> {
        &self.data
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

    /// One optimisation step on the next batch; returns the batch's mean loss. The loss and
    /// the gradients' norm are read back and checked *before* the update is committed: a
    /// step whose loss or gradients are not finite changes nothing (not even the batch
    /// position) and returns `NonFiniteLoss`. The training split must not be empty.
    pub async fn train_step(&mut self) -> Result<f32, TrainError> {
        if self.data.train.is_empty() {
            return Err(TrainError::NoData);
        }
        let (epoch, batch_in_epoch) = self.next_position();
        if epoch != self.plan_epoch {
            self.plan = self.make_plan(epoch);
            self.plan_epoch = epoch;
        }
        let batch = self.batch(&self.plan[batch_in_epoch]);
        let (inputs, targets, mask) = batch.to_tensors(&self.device);
        let n = batch.tokens;
        let params = &self.state.params;
        let tied = self.model_config.shape.tied;
        // Autodiff tracks everything up to the output layer's weight, whose gradients (and
        // the bias's) are done by hand. `param_shapes` puts the output layer last.
        let by_hand = if tied { 1 } else { 2 };
        let (below, head) = params.split_at(params.len() - by_hand);
        let tracked = below
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .chain(head.iter().cloned())
            .collect();
        let model = self.model_config.from_params(tracked);
        let (hidden, _) = model.hidden_states(inputs, None, &mut Probes::default()); // [B*T, K]
        let hidden = match self.config.output_dropout {
            0.0 => hidden,
            p => hidden.clone() * dropout_mask(p, self.config.seed, self.state.step, hidden.dims(), &self.device).autodiff(),
        };
        let positions = hidden.dims()[0];
        // The output weight [K, V]: the transposed embedding when tied.
        let weight = if tied { params[0].clone().transpose() } else { head[0].clone() };
        let bias = params[params.len() - 1].clone();
        // Each position's share of the loss (0 for padding).
        let weights: Vec<f32> = batch.mask.iter().map(|m| m / n.max(1) as f32).collect();
        let out = if on_cpu(&self.device) {
            // Fused, on every core (output_cpu.rs); the tensor ops below are its reference.
            crate::output_cpu::output_layer_grads(hidden.clone().inner(), weight, bias, &batch.targets, &weights).await?
        } else if crate::output_gpu::usable(&self.device) {
            // One kernel for the softmax cross-entropy and its gradient (output_gpu.rs).
            crate::output_gpu::output_layer_grads(hidden.clone().inner(), weight, bias, &batch.targets, &weights)
        } else {
            output_layer_grads(
                hidden.clone().inner(),
                weight,
                bias,
                targets.reshape([positions, 1]),
                mask.reshape([positions, 1]).div_scalar(n.max(1) as f32),
            )
        };
        // d(sum(hidden * d_hidden)) / d(hidden) = d_hidden: backpropagates the hand-made
        // gradient through the recurrent layers and the embedding.
        let grads = (hidden * out.d_hidden).sum().backward();
        let mut grads: Vec<Tensor<2>> = model.params()[..below.len()]
            .iter()
            .zip(below)
            .map(|(p, plain)| p.grad(&grads).unwrap_or_else(|| plain.zeros_like()))
            .collect();
        if tied {
            grads[0] = grads[0].clone() + out.d_weight.transpose(); // the embedding scores too
        } else {
            grads.push(out.d_weight);
        }
        grads.push(out.d_bias);

        let (next, loss, norm, weights_sum) = if on_cpu(&self.device) {
            // One fused pass per tensor on every core (adam_cpu.rs); the tensor ops below are its reference.
            let loss = read_scalar(out.loss).await?;
            let u = crate::adam_cpu::adam_step(&self.state.params, grads, &self.state.adam, &self.config).await?;
            (Update { params: u.params, adam: u.adam }, loss, u.grad_norm, u.weights_sum as f32)
        } else if crate::adam_gpu::usable(&self.device) {
            // Two kernels per tensor (adam_gpu.rs): the gradient's sum of squares, then the
            // update, which also flags non-finite new weights.
            let (next, figures) = crate::adam_gpu::adam_step(&self.state.params, grads, &self.state.adam, out.loss, &self.config);
            // One read-back for all the checks, before anything is committed:
            // [sums of squares…, non-finite flag, loss]
            let checks = read_values(figures).await?;
            let (squares, flag_and_loss) = checks.split_at(checks.len() - 2);
            let weights_finite = if flag_and_loss[0] == 0.0 { 0.0 } else { f32::NAN };
            (next, flag_and_loss[1], squares.iter().sum::<f32>().sqrt(), weights_finite)
        } else {
            let squared_norm = grads.iter().map(|g| g.clone().square().sum()).reduce(|a, b| a + b).expect("the model has parameters");
            let next = adam_tensor_ops(&self.state.params, &self.state.adam, grads, squared_norm.clone().sqrt(), &self.config);
            // A NaN or infinity anywhere in the new weights makes their sum non-finite.
            let weights_sum = next.params.iter().map(|p| p.clone().sum()).reduce(|a, b| a + b).expect("the model has parameters");
            // One read-back for all three checks, before anything is committed.
            let checks = read_values(Tensor::cat(vec![out.loss, squared_norm, weights_sum], 0)).await?;
            (next, checks[0], checks[1].sqrt(), checks[2])
        };
        if let Some(bad) = [loss, norm, weights_sum].into_iter().find(|v| !v.is_finite()) {
            let step = self.state.step;
            return Err(TrainError::NonFiniteLoss { step: step + 1, loss: bad, restored_step: step });
        }
        let s = &mut self.state;
        (s.params, s.adam) = (next.params, next.adam);
        (s.epoch, s.batch_in_epoch) = (epoch, batch_in_epoch + 1);
        s.step += 1;
        s.tokens += n as u64;
        self.last_grad_norm = norm;
        Ok(loss)
    }

    /// The epoch and batch index the next step trains on.
    fn next_position(&self) -> (usize, usize) {
        if self.state.batch_in_epoch >= self.plan.len() {
            (self.state.epoch + 1, 0)
        } else {
            (self.state.epoch, self.state.batch_in_epoch)
        }
    }

    fn batch(&self, indices: &[usize]) -> Batch {
        let poems: Vec<&[u32]> = indices.iter().map(|&i| self.data.train[i].as_slice()).collect();
        Batch::new(&poems, self.config.max_seq_len)
    }

    /// Runs up to `n` steps and returns their losses. A step whose loss or gradients are not
    /// finite is not applied: the error names the step and the model stays as it was
    /// after the last good step.
    pub async fn train_steps(&mut self, n: usize) -> Result<Vec<f32>, TrainError> {
        let mut losses = Vec::with_capacity(n);
        for _ in 0..n {
            losses.push(self.train_step().await?);
        }
        Ok(losses)
    }

    /// How far back the loss reaches: the norm of the gradient of the loss with respect to
    /// the last layer's hidden state at each time step, averaged over a fixed batch of the
    /// longest training poems. Nothing is updated.
    pub async fn gradient_flow(&self) -> Result<GradientFlow, TrainError> {
        let mut order: Vec<usize> = (0..self.data.train.len()).collect();
        if order.is_empty() {
            return Err(TrainError::NoData);
        }
        order.sort_by_key(|&i| (std::cmp::Reverse(self.data.train[i].len()), i));
        order.truncate(self.config.batch_size.clamp(1, GRADIENT_FLOW_BATCH));
        let shortest = order.iter().map(|&i| self.data.train[i].len()).min().unwrap_or(0);
        let t_len = (shortest + 1).min(self.config.max_seq_len).clamp(1, GRADIENT_FLOW_STEPS);
        let batch = Batch::new(&order.iter().map(|&i| self.data.train[i].as_slice()).collect::<Vec<_>>(), t_len);
        let (inputs, targets, mask) = batch.to_tensors(&self.device);
        let [b, t] = inputs.dims();
        let last_only = {
            let mut m = vec![0.0f32; b * t];
            m.iter_mut().skip(t - 1).step_by(t).for_each(|x| *x = 1.0);
            Tensor::<2>::from_data(burn::tensor::TensorData::new(m, [b, t]), &self.device)
        };
        let mut norms = Vec::with_capacity(2);
        for mask in [mask.clone(), last_only] {
            let model = self.model_config.from_params(self.state.params.iter().map(|p| p.clone().autodiff()).collect());
            let d_h = model.hidden_size();
            let probes: Vec<Tensor<2>> =
                (0..t).map(|_| Tensor::<2>::zeros([b, d_h], &self.device).autodiff().require_grad()).collect();
            let mut hooks = Probes { hidden: Some(probes.clone()), gates: None };
            let (logits, _) = model.forward_probed(inputs.clone(), None, &mut hooks);
            let tokens = read_scalar(mask.clone().sum()).await? as usize;
            let grads = masked_cross_entropy(logits, targets.clone(), mask.autodiff(), tokens).backward();
            let per_step: Vec<Tensor<2>> = probes
                .iter()
                .map(|p| p.grad(&grads).unwrap_or_else(|| Tensor::zeros([b, d_h], &self.device)))
                .collect();
            // ‖∂L/∂h_t‖ per row, averaged over the batch: [T]
            let norm = Tensor::stack::<3>(per_step, 0).square().sum_dim(2).sqrt().mean_dim(1).reshape([t]);
            norms.push(read_values(norm).await?);
        }
        let last = norms.pop().expect("two passes");
        Ok(GradientFlow { whole_poem: norms.pop().expect("two passes"), last_char: last })
    }

    /// Loss and perplexity on the validation split.
    pub async fn evaluate(&self) -> Result<Evaluation, TrainError> {
        let (total, tokens) = self.evaluate_part(0..self.eval_batches()).await?;
        Ok(Evaluation::from_sum(total, tokens))
    }

    /// Poems per validation batch: the training batch, up to `MAX_EVAL_BATCH`.
    fn eval_batch_size(&self) -> usize {
        self.config.batch_size.clamp(1, MAX_EVAL_BATCH)
    }

    /// Validation batches (a fixed order), so the browser can evaluate a few at a time and
    /// stay responsive.
    pub fn eval_batches(&self) -> usize {
        self.data.validation.len().div_ceil(self.eval_batch_size())
    }

    /// Summed loss and target count over some validation batches (see `eval_batches`).
    pub async fn evaluate_part(&self, batches: std::ops::Range<usize>) -> Result<(f64, usize), TrainError> {
        if self.data.validation.is_empty() {
            return Err(TrainError::NoValidation);
        }
        let model = self.model();
        let lengths: Vec<usize> = self.data.validation.iter().map(Vec::len).collect();
        let (mut total, mut tokens) = (0.0f64, 0usize);
        let plan = eval_plan(&lengths, self.eval_batch_size());
        for indices in plan.get(batches).unwrap_or(&[]) {
            let poems: Vec<&[u32]> = indices.iter().map(|&i| self.data.validation[i].as_slice()).collect();
            let batch = Batch::new(&poems, self.config.max_seq_len);
            let (inputs, targets, mask) = batch.to_tensors(&self.device);
            total += if on_cpu(&self.device) {
                // Fused, on every core, without the [B*T, V] log-probabilities as tensors.
                let (hidden, _) = model.hidden_states(inputs, None, &mut Probes::default());
                let (_, weight) = model.output_weight();
                crate::output_cpu::summed_nll(hidden, weight, model.fc_bias.val(), &batch.targets, &batch.mask).await?
            } else {
                let (logits, _) = model.forward(inputs, None);
                read_scalar(summed_nll(logits, targets, mask)).await? as f64
            };
            tokens += batch.tokens;
        }
        Ok((total, tokens))
    }
}

impl Evaluation {
    /// From a summed loss over `tokens` targets.
    pub fn from_sum(total: f64, tokens: usize) -> Self {
        let loss = total / tokens.max(1) as f64;
        Evaluation { loss, perplexity: loss.exp(), tokens }
    }
}

/// Adam (bias-corrected) after scaling all gradients so their global norm is at most
/// `grad_clip`: the weights and moments it would give, on the device, not yet committed. The
/// reference of the fused versions (`adam_cpu.rs`, `adam_gpu.rs`).
pub(crate) fn adam_tensor_ops(params: &[Tensor<2>], old: &AdamState, grads: Vec<Tensor<2>>, norm: Tensor<1>, c: &TrainConfig) -> Update {
    let scale = (c.grad_clip > 0.0)
        .then(|| norm.clamp_min(c.grad_clip).recip().mul_scalar(c.grad_clip).reshape([1, 1]));
    let t = old.t + 1;
    let (step_size, v_scale) = c.adam_scales(t);
    let mut next = Update { params: Vec::new(), adam: AdamState { m: Vec::new(), v: Vec::new(), t } };
    for (i, grad) in grads.into_iter().enumerate() {
        let grad = match &scale {
            Some(s) => grad * s.clone(),
            None => grad,
        };
        let m = old.m[i].clone().mul_scalar(c.beta1) + grad.clone().mul_scalar(1.0 - c.beta1);
        let v = old.v[i].clone().mul_scalar(c.beta2) + grad.square().mul_scalar(1.0 - c.beta2);
        let denom = v.clone().mul_scalar(v_scale).sqrt().add_scalar(c.epsilon);
        let update = m.clone().mul_scalar(step_size) / denom;
        next.params.push(params[i].clone() - update);
        next.adam.m.push(m);
        next.adam.v.push(v);
    }
    next
}

/// Whether `device` is burn's CPU backend (flex), where the fused output layer runs
/// (`SHIGE_TENSOR_OP_OUTPUT=1` turns it off, to measure against it).
fn on_cpu(device: &Device) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("SHIGE_TENSOR_OP_OUTPUT").is_some() {
        return false;
    }
    matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Flex(_))
}

/// An inverted-dropout mask (0, or 1 / (1 - p) for the kept units) drawn from the run's seed and
/// step, so a run repeats exactly, as the lab's shared links promise (burn's dropout draws from
/// one global generator, which the page's runs share).
fn dropout_mask(p: f64, seed: u64, step: u64, shape: [usize; 2], device: &Device) -> Tensor<2> {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(seed ^ step.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let kept = (1.0 / (1.0 - p)) as f32;
    let values: Vec<f32> = (0..shape[0] * shape[1]).map(|_| if rng.random::<f64>() < p { 0.0 } else { kept }).collect();
    Tensor::from_data(burn::tensor::TensorData::new(values, shape), device)
}

/// Reads a tensor's values to the host without blocking (required in the browser).
pub async fn read_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let read_error = |e: &dyn std::fmt::Debug| TrainError::Read(format!("{e:?}"));
    let data = t.into_data_async().await.map_err(|e| read_error(&e))?;
    // `into_vec` moves the buffer out where it can (a fresh CPU tensor): no copy.
    data.try_into_vec::<f32>().map_err(|e| read_error(&e))
}

/// Reads a one-element tensor without blocking (required in the browser).
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, TrainError> {
    t.into_scalar_async::<f32>().await.map_err(|e| TrainError::Read(format!("{e:?}")))
}
