//! The training loop: masked loss, one `train_step` shared by the CLI and the browser (the
//! output layer and Adam through whichever version `kernels::route` picks), gradient flow and
//! held-out evaluation.
//!
//! Parameters and optimizer moments live as plain tensors; each step wraps the parameters
//! for autodiff, so the optimizer state can be read back asynchronously (the browser cannot
//! read tensors synchronously) and saved by parameter name.

use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor};

use super::TrainError;
use super::config::{GRADIENT_FLOW_BATCH, GRADIENT_FLOW_STEPS, MAX_EVAL_BATCH, TrainConfig};
use crate::data::batch::{Batch, EncodedCorpus, epoch_plan, eval_plan};
use crate::data::corpus::{CleaningConfig, Corpus};
use crate::data::vocab::Vocab;
use crate::kernels::adam::{self, AdamState, Update, adam_tensor_ops};
use crate::kernels::output::{self, output_layer_grads, summed_nll};
use crate::kernels::{Kernel, Route, route};
use crate::model::{Cell, ModelShape, PoemModel, PoemModelConfig, Probes};
use crate::readback::{read_scalar, read_values};

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
/// loss alone (which shows how far back one prediction's gradient reaches). h_t is the last
/// recurrent layer's state; for the Transformer, which has no state, the first block's input at
/// t (token plus position embedding): the last character reaches it through attention alone.
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
        run_shape(shape.clone(), &config).validate(vocab.len()).map_err(TrainError::Settings)?;
        Self::on_data(Arc::new(EncodedCorpus::new(corpus, vocab)), shape, config, device)
    }

    /// A fresh model on an already encoded corpus (shared with other trainers).
    pub fn on_data(data: Arc<EncodedCorpus>, shape: ModelShape, config: TrainConfig, device: &Device) -> Result<Self, TrainError> {
        config.validate().map_err(TrainError::Settings)?;
        let shape = run_shape(shape, &config);
        shape.validate(data.vocab.len()).map_err(TrainError::Settings)?;
        let model_config = PoemModelConfig::new(data.vocab.len(), shape);
        let params = model_config.init_params(device, config.seed);
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
        let mut config = config;
        if model_config.shape.cell == Cell::Transformer {
            // Batches longer than the learned positions cannot be read (a file edited by hand;
            // front ends keep the two equal).
            config.max_seq_len = config.max_seq_len.min(model_config.shape.block_size);
        }
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
        let (tied, biased) = (self.model_config.tied_output(), self.model_config.output_bias());
        // Autodiff tracks everything up to the output layer's weight, whose gradients (and
        // the bias's) are done by hand. `param_shapes` puts the output layer's own tensors last:
        // the weight unless tied (then it is the embedding, the first), the bias if there is one.
        let by_hand = usize::from(!tied) + usize::from(biased);
        let (below, head) = params.split_at(params.len() - by_hand);
        // Gradients are read from these leaves, not from the model's parameters: a model may
        // build its modules from reshapes of them (the Transformer's biases and LayerNorms).
        let tracked: Vec<Tensor<2>> = below.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let model = self.model_config.from_params(tracked.iter().cloned().chain(head.iter().cloned()).collect());
        let (hidden, _) = model.hidden_states(inputs, None, &mut Probes::default()); // [B*T, K]
        let hidden = match self.config.output_dropout {
            0.0 => hidden,
            p => hidden.clone() * dropout_mask(p, self.config.seed, self.state.step, hidden.dims(), &self.device).autodiff(),
        };
        let positions = hidden.dims()[0];
        // The output weight [K, V]: the transposed embedding when tied.
        let weight = if tied { params[0].clone().transpose() } else { head[0].clone() };
        // No bias: zeros that are not a parameter (their gradient is dropped below).
        let bias = match biased {
            true => params[params.len() - 1].clone(),
            false => {
                let v = self.model_config.vocab_size;
                Tensor::from_data(burn::tensor::TensorData::new(vec![0.0f32; v], [1, v]), &self.device)
            }
        };
        // Each position's share of the loss (0 for padding).
        let weights: Vec<f32> = batch.mask.iter().map(|m| m / n.max(1) as f32).collect();
        let out = match route(&self.device, Kernel::Output) {
            // Fused, on every core (output/cpu.rs); the tensor ops below are its reference.
            Route::CpuLoops => output::cpu::output_layer_grads(hidden.clone().inner(), weight, bias, &batch.targets, &weights).await?,
            // One kernel for the softmax cross-entropy and its gradient (output/cube.rs).
            Route::Cube => output::cube::output_layer_grads(hidden.clone().inner(), weight, bias, &batch.targets, &weights),
            Route::TensorOps => output_layer_grads(
                hidden.clone().inner(),
                weight,
                bias,
                targets.reshape([positions, 1]),
                mask.reshape([positions, 1]).div_scalar(n.max(1) as f32),
            ),
        };
        // d(sum(hidden * d_hidden)) / d(hidden) = d_hidden: backpropagates the hand-made
        // gradient through the model's layers and the embedding.
        let grads = (hidden * out.d_hidden).sum().backward();
        let mut grads: Vec<Tensor<2>> = tracked
            .iter()
            .zip(below)
            .map(|(p, plain)| p.grad(&grads).unwrap_or_else(|| plain.zeros_like()))
            .collect();
        if tied {
            grads[0] = grads[0].clone() + out.d_weight.transpose(); // the embedding scores too
        } else {
            grads.push(out.d_weight);
        }
        if biased {
            grads.push(out.d_bias);
        }

        let hyper = self.config.adam();
        let (next, loss, norm, weights_sum) = match route(&self.device, Kernel::Adam) {
            Route::CpuLoops => {
                // One fused pass per tensor on every core (adam/cpu.rs); the tensor ops below are its reference.
                let loss = read_scalar(out.loss).await?;
                let u = adam::cpu::adam_step(&self.state.params, grads, &self.state.adam, &hyper).await?;
                (Update { params: u.params, adam: u.adam }, loss, u.grad_norm, u.weights_sum as f32)
            }
            Route::Cube => {
                // Two kernels per tensor (adam/cube.rs): the gradient's sum of squares, then the
                // update, which also flags non-finite new weights.
                let (next, figures) = adam::cube::adam_step(&self.state.params, grads, &self.state.adam, out.loss, &hyper);
                // One read-back for all the checks, before anything is committed:
                // [sums of squares…, non-finite flag, loss]
                let checks = read_values(figures).await?;
                let (squares, flag_and_loss) = checks.split_at(checks.len() - 2);
                let weights_finite = if flag_and_loss[0] == 0.0 { 0.0 } else { f32::NAN };
                (next, flag_and_loss[1], squares.iter().sum::<f32>().sqrt(), weights_finite)
            }
            Route::TensorOps => {
                let squared_norm = grads.iter().map(|g| g.clone().square().sum()).reduce(|a, b| a + b).expect("the model has parameters");
                let next = adam_tensor_ops(&self.state.params, &self.state.adam, grads, squared_norm.clone().sqrt(), &hyper);
                // A NaN or infinity anywhere in the new weights makes their sum non-finite.
                let weights_sum = next.params.iter().map(|p| p.clone().sum()).reduce(|a, b| a + b).expect("the model has parameters");
                // One read-back for all three checks, before anything is committed.
                let checks = read_values(Tensor::cat(vec![out.loss, squared_norm, weights_sum], 0)).await?;
                (next, checks[0], checks[1].sqrt(), checks[2])
            }
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

    /// The batch the next step will train on.
    pub(super) fn upcoming_batch(&self) -> Batch {
        let (epoch, batch_in_epoch) = self.next_position();
        if epoch == self.plan_epoch {
            self.batch(&self.plan[batch_in_epoch])
        } else {
            self.batch(&self.make_plan(epoch)[batch_in_epoch])
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
    /// the last layer's hidden state (the Transformer: see `GradientFlow`) at each time step,
    /// averaged over a fixed batch of the longest training poems. Nothing is updated.
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
            total += if route(&self.device, Kernel::Output) == Route::CpuLoops {
                // Fused, on every core, without the [B*T, V] log-probabilities as tensors.
                let (hidden, _) = model.hidden_states(inputs, None, &mut Probes::default());
                let (_, weight) = model.output_weight();
                output::cpu::summed_nll(hidden, weight, model.output_bias(), &batch.targets, &batch.mask).await?
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

/// The shape a run trains: the Transformer's block size is the run's sequence cap, and it is
/// tied (said in its shape too, so every front end's checkpoint reads alike).
fn run_shape(shape: ModelShape, config: &TrainConfig) -> ModelShape {
    match shape.cell {
        Cell::Transformer => shape.with_block_size(config.max_seq_len).with_tied(true),
        _ => shape,
    }
}

/// An inverted-dropout mask (0, or 1 / (1 - p) for the kept units) drawn from the run's seed and
/// step, so a run repeats exactly, as the lab's shared links promise (burn's dropout draws from
/// one global generator, which the page's runs share).
pub(super) fn dropout_mask(p: f64, seed: u64, step: u64, shape: [usize; 2], device: &Device) -> Tensor<2> {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(seed ^ step.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let kept = (1.0 / (1.0 - p)) as f32;
    let values: Vec<f32> = (0..shape[0] * shape[1]).map(|_| if rng.random::<f64>() < p { 0.0 } else { kept }).collect();
    Tensor::from_data(burn::tensor::TensorData::new(values, shape), device)
}

